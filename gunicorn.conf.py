"""gunicorn's settings file, read from the working directory (`gunicorn artera.wsgi:application`
run from the project folder picks it up by itself; elsewhere pass `-c path/to/gunicorn.conf.py`).

Only what keeps secrets out of gunicorn's own logs lives here: its access log (off unless
`--access-logfile` is given) writes request lines, query strings and the Referer, which hold
portal and call-to-text tokens and phone numbers; `artera.logging.GunicornLogger` redacts them
like every other log of the platform. Bind address, workers and the rest stay on the command line
(README, "Run it for real").
"""

logger_class = "artera.logging.GunicornLogger"
