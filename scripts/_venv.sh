# Sourced by the scripts: make .venv if missing and install the project with the given extras.
# Usage: venv_install [extras]   e.g. venv_install "test,dev"
venv_install() {
  local target="."
  [ -n "${1:-}" ] && target=".[$1]"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  local log
  log=$(mktemp)
  if ! .venv/bin/pip install --quiet --disable-pip-version-check -e "$target" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  # Some machines' pip configuration names package folders that don't exist: drop that noise.
  grep -v "is ignored: it is neither a file nor a directory" "$log" >&2 || true
  rm -f "$log"
}
