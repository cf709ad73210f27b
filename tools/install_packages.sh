#!/usr/bin/env bash
# Install the pinned packages and helpers into an existing virtual environment.
#   tools/install_packages.sh VENV SHARED(0|1) INSTALLER(uv|pip)
#
# Why uv first: it installs the same lock (constraints.txt) several times faster than pip,
# linking files from its cache instead of unpacking every wheel again (tools/setup.sh prints
# its seconds; tests/test_setup.py prints them for each Python). uv itself is pinned like every
# other package (`uv==` in requirements.txt) and comes from the package index through the
# environment's own pip the first time (kept in ~/.cache/dl-course), so nothing is needed
# beyond Python. pip stays the fallback: when that uv cannot be installed (no wheel for the
# platform, a pip-only index setup) or uv fails, pip installs the same pins.
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

# The pinned uv, without pip where possible: the environment's own copy, one on PATH, or the
# copy an earlier set-up left in the user's cache; only the first time does pip fetch it
# (into that cache, so the next fresh clone skips both ensurepip and the download).
uv_pin=$(grep -E '^uv==' requirements.txt)
uv_cache=${XDG_CACHE_HOME:-$HOME/.cache}/dl-course/uv-${uv_pin#uv==}
find_uv() {
  local candidate
  for candidate in "$venv/bin/uv" "$(command -v uv 2>/dev/null)" "$uv_cache/bin/uv"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    if [ "$("$candidate" --version 2>/dev/null | cut -d' ' -f2)" = "${uv_pin#uv==}" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_pip() {  # the venv is made without pip (uv installs the pinned one); pip's route needs it
  "$py" -m pip --version >/dev/null 2>&1 && return 0
  "$py" -m ensurepip --default-pip >/dev/null && return 0
  echo "setup: $py has no pip and ensurepip failed; on Debian/Ubuntu install the venv module:" >&2
  echo "  sudo apt install python$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv" >&2
  return 1
}

install_with_uv() {
  local uv
  if ! uv=$(find_uv); then
    ensure_pip || return 1
    "$py" -m pip install --quiet --disable-pip-version-check --target "$uv_cache" "$uv_pin" || return 1
    uv=$(find_uv) || return 1
  fi
  # A shared environment gets copies rather than hard links into this user's cache.
  # --compile-bytecode: what pip does by default; students of a shared environment cannot
  # write .pyc files, and without them every import of TensorFlow compiles from source.
  local opts=(--python "$py" --quiet --compile-bytecode)
  [ "$shared" = 1 ] && opts+=(--link-mode=copy)
  "$uv" pip install "${opts[@]}" -r requirements.txt -c constraints.txt &&
    "$uv" pip install "${opts[@]}" --no-deps --no-build-isolation "${helpers[@]}"
}

install_with_pip() {
  ensure_pip || return 1
  "$py" -m pip install --quiet --progress-bar off --disable-pip-version-check \
    -r requirements.txt -c constraints.txt &&
    "$py" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation "${helpers[@]}"
}

if [ "$installer" = uv ]; then
  say "installing pinned packages with uv"
  if ! install_with_uv; then
    say "uv could not install them; trying pip"
    installer=pip
  fi
fi
if [ "$installer" = pip ]; then
  say "installing pinned packages with pip (a few minutes the first time)"
  install_with_pip || explain_failure
fi

# nbgrader's server extensions (formgrader, assignment list, validate button): its wheel
# enables them in etc/jupyter; only where that file is missing does Jupyter need telling.
if [ ! -f "$venv/etc/jupyter/jupyter_server_config.d/nbgrader.json" ]; then
  "$venv/bin/jupyter" server extension enable --sys-prefix nbgrader >/dev/null 2>&1 || true
fi
if [ "$shared" = 1 ]; then
  chmod -R a+rX "$venv"
fi
