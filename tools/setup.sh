#!/usr/bin/env bash
# Build the course environment: .venv with pinned packages, helpers installed
# editable, nbgrader's JupyterLab extensions enabled, data sets fetched and verified.
# Idempotent: when nothing changed it only re-verifies (a few seconds, no network).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
  echo "setup: the course needs Python 3.11; '$PYTHON' is $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 1
}

stamp_of() { cat requirements.txt constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1; }
want=$(stamp_of)
stamp=.venv/.setup-stamp

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing pinned packages (a few minutes the first time)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --progress-bar off -r requirements.txt -c constraints.txt
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  # nbgrader's server and lab extensions (formgrader, assignment list, validate button).
  .venv/bin/jupyter server extension enable --sys-prefix nbgrader >/dev/null 2>&1 || true
  echo "$want" > "$stamp"
else
  echo "[setup] .venv is up to date"
fi

.venv/bin/python -m helpers.datasets fetch
# bubblewrap sandboxes student code during grading; unpacked from Debian's package
# (checksum-verified) into .venv/sandbox when the system has no bwrap.
.venv/bin/python -m autograder.sandbox fetch
