"""Check a handed-in folder before nbgrader sees it, and copy only what gets graded.

Why: nbgrader grades whatever lies in ``submitted/<student>/<mission>/``. A stray file
there is imported before the course's own code (a ``helpers.py`` next to the notebook
shadows the real ``helpers`` package and could fake every check), an old-format or
misnamed notebook is skipped with a warning nobody reads, and an empty or truncated
file makes nbgrader fail with a long traceback. Intake turns each of these into either
a clean ``<mission>.ipynb`` (nbformat 4, plus nbgrader's ``timestamp.txt`` and
``submission_secret.txt`` if present)
or one sentence saying why the submission cannot be graded.

It also puts the grading metadata back the way the release had it: a cell whose
nbgrader grade id was renamed, or a copy of a graded cell (the same grade id twice,
which makes nbgrader 0.9 stop with ``KeyError: 'grade_id'``), loses its grading
metadata, and every cell with a known grade id gets the release's metadata (points,
locked, kind) back. nbgrader then restores the locked test cells' code from the
gradebook and puts back the ones that went missing.

Nothing in a submission is trusted: a symbolic link (say, to the instructor's source
notebook), a hard link (a second name for a file elsewhere), a link to a folder or a
special file (FIFO, device) anywhere in the folder makes the submission fail, and no link
is ever followed (the notebook is opened with ``O_NOFOLLOW`` and checked again on the
open file). Every field intake reads is checked for its type, size and nesting depth
before use, so that one odd file fails with one sentence and never stops the batch.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 50 * 2**20  # a mission notebook with outputs is well under 2 MB
MAX_TIMESTAMP_BYTES = 1000
MAX_DEPTH = 64  # a notebook's JSON is about 8 levels deep; Python's parser recurses
MAX_CELLS = 5000
MAX_ENTRIES = 1000  # files and folders in one submission folder
# nbgrader's exchange files: the submission time (late penalties) and the secret that
# `nbgrader release_feedback` needs to find the student's feedback folder.
KEPT_FILES = ("timestamp.txt", "submission_secret.txt")
FOLDER_MODE = 0o750  # never the 777 of nbgrader's inbound copies: graders read, nobody else


class IntakeError(ValueError):
    """The submission cannot be graded; the message says why, in one sentence."""


@dataclass
class Intake:
    notebook: Path  # the file that will be graded, as handed in
    notes: list[str] = field(default_factory=list)  # things worth telling the instructor


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "not a regular file"


def check_no_links(folder: Path) -> None:
    """Raise IntakeError if ``folder`` is, or holds, anything but plain files and folders.

    Uses ``lstat`` throughout and never follows a link. A hard link (``st_nlink > 1``) is a
    second name for a file that may live outside the submission, e.g. the source notebook.
    """
    top = os.lstat(folder)
    if not stat.S_ISDIR(top.st_mode):
        raise IntakeError(
            f"the submission folder {folder.name!r} is {_kind(top.st_mode)}; hand in a plain folder"
        )
    seen = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in sorted(dirnames + filenames):
            seen += 1
            if seen > MAX_ENTRIES:
                raise IntakeError(f"the submission holds over {MAX_ENTRIES} files and folders")
            path = Path(dirpath) / name
            st = os.lstat(path)
            shown = str(path.relative_to(folder))
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                raise IntakeError(
                    f"{shown!r} is {_kind(st.st_mode)}; links are not followed, "
                    "hand in the notebook file itself"
                )
            if st.st_nlink > 1:
                raise IntakeError(
                    f"{shown!r} is a hard link (one of {st.st_nlink} names for the "
                    "same file); hand in a copy of the notebook file itself"
                )


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, opened without following links and checked on the open file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise IntakeError(f"{path.name!r} is not a plain file (a link or a special file)")
        if st.st_size > limit:
            raise IntakeError(
                f"{path.name} is {st.st_size / 2**20:.0f} MB, over the "
                f"{limit / 2**20:g} MB it may have"
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise IntakeError(f"{path.name} grew past {limit} bytes while being read")
    return data


def choose_notebook(folder: Path, mission: str) -> Intake:
    """The notebook to grade: ``<mission>.ipynb``, else the only ``.ipynb`` in the folder."""
    expected = f"{mission}.ipynb"
    check_no_links(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    if (folder / expected).is_file():
        chosen = Intake(folder / expected)
    elif len(notebooks) == 1:
        chosen = Intake(notebooks[0], [f"graded {notebooks[0].name} as {expected}"])
    elif not notebooks:
        raise IntakeError(f"no notebook in {folder.name}/ (expected {expected})")
    else:
        names = ", ".join(p.name for p in notebooks)
        raise IntakeError(
            f"no {expected} and several other notebooks ({names}): cannot tell which one to grade"
        )
    extra = [p.name for p in files if p != chosen.notebook and p.name not in KEPT_FILES]
    extra += [
        p.name + "/"
        for p in sorted(folder.iterdir())
        if p.is_dir() and p.name not in (".ipynb_checkpoints", "__pycache__")
    ]
    if extra:
        chosen.notes.append(f"ignored extra files: {', '.join(extra)}")
    return chosen


def too_deep(value, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and dicts nest more than ``limit`` levels (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def read_notebook(path: Path):
    """Parse and validate ``path`` as a notebook, upgrading an old nbformat to version 4."""
    data = read_regular_file(path, MAX_NOTEBOOK_BYTES)
    if not data:
        raise IntakeError(f"{path.name} is an empty file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntakeError(
            f"{path.name} is not valid JSON (not UTF-8 text: {exc}); was it saved completely?"
        ) from exc
    try:
        raw = json.loads(text)
    except RecursionError as exc:
        raise IntakeError(
            f"{path.name} nests lists or objects too deeply to read; "
            "a notebook is about 8 levels deep"
        ) from exc
    except ValueError as exc:  # JSONDecodeError, or numbers too long to convert
        raise IntakeError(
            f"{path.name} is not valid JSON ({str(exc)[:200]}); was it saved completely?"
        ) from exc
    if too_deep(raw):
        raise IntakeError(
            f"{path.name} nests lists or objects over {MAX_DEPTH} levels deep; "
            "a notebook is about 8 levels deep"
        )
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise IntakeError(f"{path.name} is JSON but not a notebook (no 'nbformat' field)")
    version = raw.get("nbformat")
    if type(version) is not int or not 1 <= version <= 4:
        raise IntakeError(f"{path.name} has nbformat {str(version)[:20]!r}; expected 1 to 4")
    cells = raw.get("cells", [])
    if isinstance(cells, list) and len(cells) > MAX_CELLS:
        raise IntakeError(f"{path.name} has {len(cells)} cells, over the {MAX_CELLS} allowed")
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds
        raise IntakeError(
            f"{path.name} is not a valid notebook: {(str(exc).splitlines() or [''])[0][:200]}"
        ) from exc
    return nb, version


def release_metadata(release_notebook: Path) -> dict[str, dict]:
    """grade id -> the release's nbgrader metadata for that cell."""
    nb = nbformat.read(release_notebook, as_version=4)
    found = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta and meta.get("grade_id"):
            found[meta["grade_id"]] = meta
    return found


def restore_metadata(nb, known: dict[str, dict]) -> list[str]:
    """Give every graded cell the release's metadata; strip it from copies and strangers.

    Walks backwards so that of two cells with one grade id the last keeps it (nbgrader's
    choice too: the last definition is the one that runs). Returns notes for the log.
    """
    seen: set[str] = set()
    stripped: list[str] = []
    for cell in reversed(nb.cells):
        if "nbgrader" not in cell.metadata:
            continue
        meta = cell.metadata.get("nbgrader")
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(grade_id, str):  # a list, a number, metadata that is not a dict
            del cell.metadata["nbgrader"]
            stripped.append(f"<{type(grade_id if isinstance(meta, dict) else meta).__name__}>")
            continue
        if grade_id in known and grade_id not in seen:
            seen.add(grade_id)
            cell.metadata["nbgrader"] = copy.deepcopy(known[grade_id])
        else:
            del cell.metadata["nbgrader"]
            stripped.append(repr(grade_id[:40]))
    if not stripped:
        return []
    return [
        f"grading metadata removed from cells the release does not have in that form "
        f"(copied or renamed grade ids: {', '.join(sorted(set(stripped))[:10])})"
    ]


def take_in(src: Path, dest: Path, mission: str, release_notebook: Path | None = None) -> Intake:
    """Copy the gradable part of ``src`` into ``dest`` (replacing it); raise IntakeError.

    With ``release_notebook``, the grading metadata is restored from it (see module doc).
    """
    chosen = choose_notebook(src, mission)
    nb, version = read_notebook(chosen.notebook)
    if version < 4:
        chosen.notes.append(f"upgraded {chosen.notebook.name} from nbformat {version} to 4")
    if release_notebook is not None and release_notebook.is_file():
        chosen.notes += restore_metadata(nb, release_metadata(release_notebook))
    kept = {
        name: read_regular_file(src / name, MAX_TIMESTAMP_BYTES)
        for name in KEPT_FILES
        if (src / name).is_file()
    }
    text = nbformat.writes(nb)
    # Built beside ``dest`` and swapped in: ``src`` may be ``dest`` itself (make grade
    # SUBMISSIONS=autograder/submitted), and nothing of it is removed before the copy is whole.
    staging = dest.with_name(f".intake-{dest.name}")  # a dot: never listed as a submission
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    (staging / f"{mission}.ipynb").write_text(text, encoding="utf-8")
    for name, data in kept.items():
        (staging / name).write_bytes(data)
    staging.chmod(FOLDER_MODE)
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    staging.rename(dest)
    return chosen
