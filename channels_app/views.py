def home(r): pass
def inbox(r): pass
