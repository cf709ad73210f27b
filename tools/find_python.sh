#!/usr/bin/env bash
# Print the interpreter that builds the course environment, or explain why there is none.
#
# Why a script of its own: a new user's first command must either work or say exactly what
# to install. It runs before any environment exists, so it needs nothing but bash.
#
#   PYTHON set  -> that interpreter, if its version is supported (else the refusal below)
#   otherwise   -> the newest supported CPython on PATH: python3.13, python3.12, python3.11,
#                  then python3 and python, each PATH entry in turn (a pyenv shim that is not
#                  selected fails to run and is passed over)
#
# Exit 0 with the path on stdout; exit 3 with the refusal on stderr.
# --advice: only list the interpreters found and how to get a supported one (on stderr), exit 0;
# tools/install_packages.sh adds it to a failed install.
# Keep SUPPORTED in step with pyproject.toml's requires-python (tests/test_setup.py checks).
set -uo pipefail

SUPPORTED="3.13 3.12 3.11"   # newest first: the order in which they are preferred

# "3.12.1 /usr/bin/python3.12 /usr/bin/python3.12": version, executable, and the file it
# resolves to (which tells /bin/python3 and /usr/bin/python3 apart from two interpreters),
# for a working CPython; nothing for anything else.
probe() {
  "$1" -c 'import os, platform, sys
if platform.python_implementation() == "CPython":
    print("%d.%d.%d" % sys.version_info[:3], sys.executable, os.path.realpath(sys.executable))' 2>/dev/null
}

rank() {  # position of "3.12.1"'s minor version in SUPPORTED: 0 for the newest
  local minor=${1%.*} v i=0
  for v in $SUPPORTED; do [ "$minor" = "$v" ] && { echo $i; return; }; i=$((i + 1)); done
  echo 99
}

is_supported() {  # "3.12.1" -> true when its minor version is in SUPPORTED
  [ "$(rank "$1")" -lt 99 ]
}

found=()  # "python3.10 3.10.13 (/usr/bin/python3.10)" for every interpreter looked at

advice() {  # what is there and how to get a supported one, on stderr
  {
    if [ ${#found[@]} -gt 0 ]; then
      echo "  Found:"
      printf '    %s\n' "${found[@]}"
    else
      echo "  Found: no python3 or python on PATH."
    fi
    echo "  Get a supported one, then run the same command again:"
    echo "    Debian 12:     sudo apt install python3 python3-venv          (Python 3.11)"
    echo "    Ubuntu 24.04:  sudo apt install python3 python3-venv          (Python 3.12)"
    echo "    Ubuntu 22.04:  sudo apt install python3.11 python3.11-venv    (from 'universe')"
    echo "    pyenv:         pyenv install 3.12 && pyenv shell 3.12"
    echo "    conda:         conda env create -f environment.yml && conda activate dl-course"
    echo "  or name one:     PYTHON=/path/to/python3.12 make course"
  } >&2
}

refuse() {
  local asc=() v ascending  # "3.11, 3.12 or 3.13", in bash alone (PATH may hold nothing else)
  for v in $SUPPORTED; do asc=("$v" "${asc[@]}"); done
  printf -v ascending '%s, ' "${asc[@]:0:${#asc[@]}-1}"
  ascending="${ascending%, } or ${asc[-1]}"
  echo "setup: no supported Python found. The course environment needs CPython $ascending" >&2
  echo "  (any patch release, e.g. Debian 12's 3.11.2)." >&2
  advice
  exit 3
}

if [ -n "${PYTHON:-}" ] && [ "${1:-}" != --advice ]; then
  read -r v exe real <<< "$(probe "$PYTHON")"
  if [ -n "$v" ] && is_supported "$v"; then
    echo "$exe"
    exit 0
  fi
  found+=("PYTHON=$PYTHON -> ${v:-not found, or not a working CPython}")
  refuse
fi

best="" best_rank=99
seen=" "
IFS=: read -r -a dirs <<< "${PATH:-}"
names=()
for v in $SUPPORTED; do names+=("python$v"); done
names+=(python3 python)
for name in "${names[@]}"; do
  for dir in "${dirs[@]}"; do
    cand="${dir:-.}/$name"
    [ -x "$cand" ] && [ ! -d "$cand" ] || continue
    read -r v exe real <<< "$(probe "$cand")"
    [ -n "$v" ] || continue  # an unselected pyenv shim, a broken link, not CPython
    case $seen in *" $real "*) continue ;; esac  # /bin and /usr/bin: the same file twice
    seen="$seen$real "
    found+=("$name $v ($cand)")
    r=$(rank "$v")
    # The newest supported minor wins; among equals, the first one met.
    if [ "$r" -lt "$best_rank" ]; then best=$exe best_rank=$r; fi
  done
done

if [ -z "$best" ] || [ "${1:-}" = --advice ]; then
  # Name the unsupported versioned interpreters too (python3.10, python3.14), so the
  # refusal lists everything that is there.
  for dir in "${dirs[@]}"; do
    for cand in "${dir:-.}"/python3.[0-9] "${dir:-.}"/python3.[0-9][0-9]; do
      [ -x "$cand" ] && [ ! -d "$cand" ] || continue
      read -r v exe real <<< "$(probe "$cand")"
      [ -n "$v" ] || continue
      case $seen in *" $real "*) continue ;; esac
      seen="$seen$real "
      found+=("${cand##*/} $v ($cand)")
    done
  done
fi

if [ "${1:-}" = --advice ]; then advice; exit 0; fi
[ -n "$best" ] && { echo "$best"; exit 0; }
refuse
