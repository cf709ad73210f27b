#!/usr/bin/env bash
# Install the pinned packages and helpers into an existing virtual environment.
#   tools/install_packages.sh VENV SHARED(0|1) INSTALLER(uv|pip)
#
# Why uv first: it installs the same lock (constraints.txt) several times faster than pip,
# linking files from its cache instead of unpacking every wheel again (tests/test_setup.py
# and the README's instructor section record the seconds). uv itself is pinned like every
# other package (`uv==` in requirements.txt) and comes from the package index through the
# environment's own pip, so nothing is needed beyond Python. pip stays the fallback: when
# that uv cannot be installed (no wheel for the platform, a pip-only index setup) or uv
# fails, pip installs the same pins.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$1 shared=$2 installer=$3
py=$venv/bin/python

say() { echo "[setup] $*"; }

explain_failure() {
  {
    echo "setup: installing the pinned packages into $venv with $("$py" --version 2>&1) failed (see above)."
    echo "  constraints.txt pins every package for CPython 3.11, 3.12 and 3.13. If the message above"
    echo "  is about the network, check that the package index is reachable and run the command again;"
    echo "  if it is about versions, build with a supported interpreter instead:"
  } >&2
  # The same advice as when no interpreter is found: which ones exist and how to get one.
  bash tools/find_python.sh --advice
  exit 4
}

# helpers: a copy for a shared environment (students cannot follow an editable link into the
# instructor's home), editable otherwise. No build isolation: setuptools is pinned and installed.
if [ "$shared" = 1 ]; then helpers=(.); else helpers=(-e .); fi

install_with_uv() {
  local uv=$venv/bin/uv pin
  pin=$(grep -E '^uv==' requirements.txt)
  if [ "$("$uv" --version 2>/dev/null | cut -d' ' -f2)" != "${pin#uv==}" ]; then
    "$py" -m pip install --quiet --disable-pip-version-check "$pin" || return 1
  fi
  # A shared environment gets copies rather than hard links into this user's cache.
  local link=()
  [ "$shared" = 1 ] && link=(--link-mode=copy)
  "$uv" pip install --python "$py" --quiet "${link[@]}" -r requirements.txt -c constraints.txt &&
    "$uv" pip install --python "$py" --quiet "${link[@]}" --no-deps --no-build-isolation "${helpers[@]}"
}

install_with_pip() {
  "$py" -m pip install --quiet --progress-bar off --disable-pip-version-check \
    -r requirements.txt -c constraints.txt &&
    "$py" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation "${helpers[@]}"
}

if [ "$installer" = uv ]; then
  say "installing pinned packages with uv (a minute the first time, seconds from a warm cache)"
  if ! install_with_uv; then
    say "uv could not install them; trying pip"
    installer=pip
  fi
fi
if [ "$installer" = pip ]; then
  say "installing pinned packages with pip (a few minutes the first time)"
  install_with_pip || explain_failure
fi

# nbgrader's server and lab extensions (formgrader, assignment list, validate button).
"$venv/bin/jupyter" server extension enable --sys-prefix nbgrader >/dev/null 2>&1 || true
if [ "$shared" = 1 ]; then
  chmod -R a+rX "$venv"
fi
