# Sourced by the scripts: make (or reuse) the virtual environment and install from the lock.
# BMMSYNC_VENV chooses where it lives (default .venv); PYTHON chooses the interpreter.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${BMMSYNC_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "bmmsync needs Python >= 3.11 ($PY is older)" >&2; exit 2; }
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c constraints.txt -e ".[dev]"
export PATH="$PWD/$VENV/bin:$PATH"
