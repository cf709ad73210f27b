#!/usr/bin/env bash
# Build the course environment: a virtual environment with the pinned packages, helpers
# installed, nbgrader's JupyterLab extensions enabled, data sets fetched and verified.
# Idempotent: when nothing changed it only re-verifies (well under a second, no network).
#
#   PYTHON=/usr/bin/python3.11   the interpreter (default: the newest supported one on PATH,
#                                chosen by tools/find_python.sh)
#   VENV=/opt/dl-course/venv     where the environment goes (default: .venv in the checkout).
#                                A prefix outside the checkout is a SHARED environment for a
#                                class server: helpers is installed as a copy rather than an
#                                editable link into this checkout, the data sets live in
#                                $VENV/share/dl-course/data, and everything is readable by all.
#   INSTALLER=pip                install with pip instead of uv (uv is the default: the pinned
#                                uv from requirements.txt, put into the environment by pip;
#                                pip takes over whenever uv cannot be had or fails)
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022  # students read a shared environment; a personal one loses nothing by it
start=$EPOCHREALTIME
repo=$PWD

VENV=${VENV:-$repo/.venv}
case $VENV in /*) ;; *) VENV=$repo/$VENV ;; esac
VENV=${VENV%/}
case $VENV/ in "$repo"/*) shared=0 ;; *) shared=1 ;; esac
py=$VENV/bin/python
INSTALLER=${INSTALLER:-uv}

say() { echo "[setup] $*"; }

# What the installed environment was built from: the pins, the build description and, for a
# shared environment (helpers copied, not linked), helpers' own code.
stamp_of() {
  { cat requirements.txt constraints.txt pyproject.toml; echo "shared=$shared"
    if [ "$shared" = 1 ]; then cat helpers/*.py; fi; } | sha256sum | cut -d' ' -f1
}
want=$(stamp_of)
stamp=$VENV/.setup-stamp
venv_exe() { sed -n 's/^executable = //p' "$VENV/pyvenv.cfg" 2>/dev/null; }

# The interpreter's path as the venv records it ("executable" in pyvenv.cfg); empty when
# there is no environment yet or its interpreter is gone (a removed pyenv version).
current=""
if "$py" -c '' 2>/dev/null; then current=$(venv_exe); fi

# An existing, working environment keeps its interpreter unless PYTHON names another one.
base=$current
if [ -n "${PYTHON:-}" ] || [ -z "$current" ]; then
  base=$(bash tools/find_python.sh) || exit 3
fi
if [ -z "$current" ] || [ "$(readlink -f "$base")" != "$(readlink -f "$current")" ]; then
  if [ "$shared" = 1 ]; then
    # Fail before building 2 GB that students could not use (an interpreter under /root).
    "$base" tools/shared_env.py "$VENV" --quiet || exit 5
  fi
  # --clear only where a venv already is: never empty a folder that is something else.
  clear=(); [ -f "$VENV/pyvenv.cfg" ] && clear=(--clear)
  if [ ${#clear[@]} = 0 ] && [ -n "$(ls -A "$VENV" 2>/dev/null | grep -vx share)" ]; then
    echo "setup: $VENV holds files and is not a virtual environment; choose an empty or new folder." >&2
    exit 3
  fi
  say "creating $VENV with $("$base" --version) ($base)"
  # Without pip: uv installs the pinned pip with everything else (pip's route adds it itself).
  "$base" -m venv --without-pip "${clear[@]}" "$VENV" || {
    echo "setup: '$base -m venv' failed. On Debian/Ubuntu install the venv module:" >&2
    echo "  sudo apt install python$("$base" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv" >&2
    exit 3
  }
  rm -f "$stamp"
fi

if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  say "$VENV is up to date"
else
  bash tools/install_packages.sh "$VENV" "$shared" "$INSTALLER"
  echo "$want" > "$stamp"
fi

if [ "$shared" = 1 ]; then
  # helpers.datasets looks here first when it runs from this environment (data_dir()).
  mkdir -p "$VENV/share/dl-course/data"
fi
"$py" -m helpers.datasets fetch
# bubblewrap sandboxes student code during grading; unpacked from Debian's package
# (checksum-verified) into .venv/sandbox when the system has no bwrap.
"$py" -m autograder.sandbox fetch
if [ "$shared" = 1 ]; then
  chmod -R a+rX "$VENV/share/dl-course/data"
  "$py" tools/shared_env.py "$VENV"
fi
us=$(( ${EPOCHREALTIME/./} - ${start/./} ))
say "done in $((us / 1000000)).$((us % 1000000 / 100000)) s"
