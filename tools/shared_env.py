"""Check that a shared course environment is usable by every Unix account on the machine.

Why this exists: on a class server the instructor builds the environment once
(``VENV=/opt/dl-course/venv make setup``) and every student's kernel runs it. One folder on
the way with mode 700 -- a home directory, pyenv under ``/root`` -- makes it useless to everyone
else, and that would only show when the first student's kernel fails to start. So
``make setup`` runs this twice and stops with the folder to fix: with the chosen interpreter
before it creates anything (``--quiet``), and with the environment's python when it is built.
Standard library only, so the bare interpreter can run it.

    python tools/shared_env.py VENV [--quiet]
"""

from __future__ import annotations

import os
import stat
import sys
import sysconfig
from pathlib import Path

KERNEL_HINT = (
    "{venv}/bin/python -m ipykernel install --prefix /usr/local "
    '--name dl-course --display-name "Deep learning course"'
)


def blocked(path: Path) -> list[str]:
    """The folders on the way to ``path`` (and ``path`` itself) that other users cannot pass.

    A folder needs the others' execute bit to be passed through, a file their read bit.
    A path not created yet is judged by the folders that exist on its way.
    """
    problems = []
    path = Path(os.path.realpath(path))
    for folder in reversed(path.parents):
        if not folder.exists():
            break
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            problems.append(f"{folder} (mode {stat.S_IMODE(mode):o})")
    if path.exists():
        mode = path.stat().st_mode
        needed = stat.S_IXOTH if path.is_dir() else stat.S_IROTH
        if not mode & needed:
            problems.append(f"{path} (mode {stat.S_IMODE(mode):o})")
    return problems


def needed_paths(venv: Path) -> list[Path]:
    """What a student's kernel reads: the environment, its interpreter and the standard library."""
    return [
        venv / "bin" / "python",
        Path(sys._base_executable),
        Path(sysconfig.get_paths()["stdlib"]) / "os.py",
        venv / "share" / "dl-course" / "data",
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    quiet = "--quiet" in argv
    argv = [a for a in argv if a != "--quiet"]
    if len(argv) != 1:
        print("usage: " + __doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    venv = Path(argv[0])
    problems = sorted({p for path in needed_paths(venv) for p in blocked(path)})
    if problems:
        print(
            "setup: other users cannot reach this shared environment; they need to pass:\n  "
            + "\n  ".join(problems)
            + "\nBuild it at a prefix everyone can read (e.g. VENV=/opt/dl-course/venv) from a "
            "system interpreter (e.g. PYTHON=/usr/bin/python3.11), or open those folders "
            "(chmod o+x).",
            file=sys.stderr,
        )
        return 5
    if quiet:
        return 0
    print(f"[setup] shared environment {venv} is readable by every account. For JupyterHub,")
    print("        register its kernel for everyone (once, as root):")
    print("        " + KERNEL_HINT.format(venv=venv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
