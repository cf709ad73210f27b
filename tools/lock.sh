#!/usr/bin/env bash
# Re-pin every package the environment holds, for every supported Python, into constraints.txt:
#   make constraints              keep today's pins, add or change only what requirements.txt asks
#   make constraints UPGRADE=1    move every transitive pin to the newest release that fits
#
# Why one universal lock (`uv pip compile --universal`) rather than a pip freeze per Python:
# one file, one command, and every pin is chosen for the whole range at once. Where a
# package has no release that serves every supported Python, the lock says so with a marker
# (e.g. soupsieve 4.x needs Python >= 3.11.5, so Debian 12's 3.11.2 gets 2.x:
# `soupsieve==2.10 ; python_full_version < '3.11.5'`). pip and uv both read such markers, so
# the same file constrains either installer. The oldest supported Python comes from
# pyproject.toml's requires-python.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
uv=$VENV/bin/uv
[ -x "$uv" ] || { echo "constraints: $uv is missing; run \`make setup\` first" >&2; exit 1; }
oldest=$(sed -n 's/^requires-python = ">=\([0-9.]*\),.*/\1/p' pyproject.toml)
[ -n "$oldest" ] || { echo "constraints: no requires-python = \">=X.Y,...\" in pyproject.toml" >&2; exit 1; }

work=$(mktemp)
trap 'rm -f "$work"' EXIT
cp constraints.txt "$work"  # uv keeps the pins it finds in its output file unless told to upgrade
upgrade=(); [ -n "${UPGRADE:-}" ] && upgrade=(--upgrade)
"$uv" pip compile --quiet --universal --python-version "$oldest" --no-header "${upgrade[@]}" \
  requirements.txt -o "$work"
{
  echo "# Every package the course environment holds, pinned for each supported Python (one universal"
  echo "# lock; a marker picks the pin where one release cannot serve them all). Written by"
  echo "# \`make constraints\` (tools/lock.sh, uv pip compile --universal) from requirements.txt;"
  echo "# used as \`-r requirements.txt -c constraints.txt\` by uv, or by pip as the fallback."
  cat "$work"
} > constraints.txt
echo "constraints: $(grep -c '^[A-Za-z0-9]' constraints.txt) pins written to constraints.txt"
