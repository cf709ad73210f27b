"""Check a handed-in folder before nbgrader sees it, and copy only what gets graded.

Why: nbgrader grades whatever lies in ``submitted/<student>/<mission>/``. A stray file
there is imported before the course's own code (a ``helpers.py`` next to the notebook
shadows the real ``helpers`` package and could fake every check), an old-format or
misnamed notebook is skipped with a warning nobody reads, and an empty or truncated
file makes nbgrader fail with a long traceback. Intake turns each of these into either
a clean ``<mission>.ipynb`` (nbformat 4, plus nbgrader's ``timestamp.txt`` if present)
or one sentence saying why the submission cannot be graded.

It also puts the grading metadata back the way the release had it: a cell whose
nbgrader grade id was renamed, or a copy of a graded cell (the same grade id twice,
which makes nbgrader 0.9 stop with ``KeyError: 'grade_id'``), loses its grading
metadata, and every cell with a known grade id gets the release's metadata (points,
locked, kind) back. nbgrader then restores the locked test cells' code from the
gradebook and puts back the ones that went missing.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 50 * 2**20  # a mission notebook with outputs is well under 2 MB
KEPT_FILES = ("timestamp.txt",)


class IntakeError(ValueError):
    """The submission cannot be graded; the message says why, in one sentence."""


@dataclass
class Intake:
    notebook: Path  # the file that will be graded, as handed in
    notes: list[str] = field(default_factory=list)  # things worth telling the instructor


def choose_notebook(folder: Path, mission: str) -> Intake:
    """The notebook to grade: ``<mission>.ipynb``, else the only ``.ipynb`` in the folder."""
    expected = f"{mission}.ipynb"
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
        raise IntakeError(f"no {expected} and several other notebooks ({names}): "
                          "cannot tell which one to grade")
    extra = [p.name for p in files if p != chosen.notebook and p.name not in KEPT_FILES]
    extra += [p.name + "/" for p in sorted(folder.iterdir()) if p.is_dir()
              and p.name not in (".ipynb_checkpoints", "__pycache__")]
    if extra:
        chosen.notes.append(f"ignored extra files: {', '.join(extra)}")
    return chosen


def read_notebook(path: Path):
    """Parse and validate ``path`` as a notebook, upgrading an old nbformat to version 4."""
    size = path.stat().st_size
    if size == 0:
        raise IntakeError(f"{path.name} is an empty file")
    if size > MAX_NOTEBOOK_BYTES:
        raise IntakeError(f"{path.name} is {size / 2**20:.0f} MB, over the "
                          f"{MAX_NOTEBOOK_BYTES // 2**20} MB a notebook may have")
    try:
        raw = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntakeError(f"{path.name} is not valid JSON ({exc}); "
                          "was it saved completely?") from exc
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise IntakeError(f"{path.name} is JSON but not a notebook (no 'nbformat' field)")
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds
        raise IntakeError(f"{path.name} is not a valid notebook: "
                          f"{str(exc).splitlines()[0][:200]}") from exc
    return nb, int(raw.get("nbformat", 4))


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
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        grade_id = meta.get("grade_id")
        if grade_id in known and grade_id not in seen:
            seen.add(grade_id)
            cell.metadata["nbgrader"] = copy.deepcopy(known[grade_id])
        else:
            del cell.metadata["nbgrader"]
            stripped.append(str(grade_id))
    if not stripped:
        return []
    return [f"grading metadata removed from cells the release does not have in that form "
            f"(copied or renamed grade ids: {', '.join(sorted(set(stripped)))})"]


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
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    nbformat.write(nb, dest / f"{mission}.ipynb")
    for name in KEPT_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dest / name)
    return chosen
