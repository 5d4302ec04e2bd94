#!/usr/bin/env bash
# Create the separate virtualenv that runs a real OpenStack Glance for the
# integration tests (tests/glance.py starts it): glance, python-glanceclient
# and uwsgi, which serves glance.wsgi.api:application (the glance-api command
# of current Glance is a stub).
#
# Usage: tests/glance-venv.sh [DIR]   (default: .venv-glance in the repo root)
#
# Separate from .venv on purpose: Glance pins a large OpenStack stack
# (oslo.*, SQLAlchemy, eventlet...) that must not leak into the project's own
# dependencies. Idempotent: a stamp file written after a successful check
# makes later runs return at once.
#
# uwsgi is built from source: it needs gcc and the headers of the Python it is
# built for (on Debian 12: build-essential and python3-dev for /usr/bin/python3;
# a pyenv Python ships its own headers).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/.venv-glance}"
python="${PYTHON:-python3}"
stamp="$dir/.glance-installed"
# An empty database at the schema of this Glance: tests/glance.py copies it
# instead of running glance-manage db_sync (about 2 s) on every start.
template="$dir/glance-db-template.sqlite"

make_template() {
  local work out
  work="$(mktemp -d)"
  printf '[database]\nconnection = sqlite:///%s/glance.sqlite\n' "$work" >"$work/glance.conf"
  out=$("$dir/bin/glance-manage" --config-file "$work/glance.conf" db_sync 2>&1) || {
    echo "$out" >&2
    rm -rf "$work"
    exit 1
  }
  mv "$work/glance.sqlite" "$template"
  rm -rf "$work"
}

# The stamp alone is not trusted: a venv whose interpreter moved or broke
# (pyenv upgrade, half-deleted directory) is rebuilt.
# find_spec, not import: importing glance.wsgi.api loads the config, and
# importing the rest of Glance takes over a second.
check='import importlib.util as u, sys; sys.exit(not (u.find_spec("glance.wsgi.api") and u.find_spec("glanceclient")))'
if [ -f "$stamp" ] && "$dir/bin/python" -c "$check" 2>/dev/null \
  && [ -x "$dir/bin/uwsgi" ] && [ -x "$dir/bin/glance-manage" ]; then
  [ -f "$template" ] || make_template
  exit 0
fi

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "glance-venv.sh needs Python >= 3.11 (found: $("$python" --version 2>&1))" >&2
  exit 1
}
command -v gcc >/dev/null || {
  echo "uwsgi builds from source: apt-get install build-essential python3-dev" >&2
  exit 1
}

start=$(date +%s)
rm -f "$stamp" "$template"
"$python" -m venv "$dir"
# This machine's pip config names local indexes that lack most packages; the
# warnings that pip prints for each of them say nothing, so they are dropped.
quiet_pip() {
  "$dir/bin/pip" "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}
quiet_pip install --quiet --upgrade pip
quiet_pip install --quiet glance python-glanceclient uwsgi

# Checked before the stamp is written, so a failed install is retried next time.
# Output only on failure: a good import prints Eventlet's deprecation notice.
out=$("$dir/bin/python" -c 'import glance.common.wsgi_app, glanceclient' 2>&1) || {
  echo "$out" >&2
  exit 1
}
out=$("$dir/bin/glance-manage" --help 2>&1) || {
  echo "$out" >&2
  exit 1
}
"$dir/bin/uwsgi" --version >/dev/null
make_template
"$dir/bin/pip" freeze >"$stamp"
echo "glance venv ready in $dir ($(($(date +%s) - start)) s)"
