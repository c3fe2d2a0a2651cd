# Sourced by the scripts: make (or reuse) the virtual environment and install from the lock.
# BMMSYNC_VENV chooses where it lives (default .venv); PYTHON chooses the interpreter.
# Every dependency comes from constraints.txt with its hash checked (--require-hashes); then
# bmmsync itself is installed editable, without resolving anything further.
# The install is skipped when pyproject.toml and constraints.txt are unchanged since the last.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${BMMSYNC_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "bmmsync needs Python >= 3.11 ($PY is older)" >&2; exit 2; }
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.bmmsync-installed"
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log=$(mktemp)
  pip=("$VENV/bin/python" -m pip install --disable-pip-version-check)
  if ! { "${pip[@]}" --require-hashes --no-deps -r constraints.txt \
      && "${pip[@]}" --no-deps -e . \
      && "$VENV/bin/python" -m pip check; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  echo "$want" > "$stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"
