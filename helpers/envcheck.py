"""The first cell of every notebook: is this kernel the course's environment?

Course repositories break most often on version drift: a Keras 2 kernel that logs
``acc`` instead of ``accuracy``, a ``helpers`` package older than the notebook that
calls it. This check names the problem and the fix before any of that happens.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

# What the notebooks are written against. Keep in step with requirements.txt and, for Python,
# with pyproject.toml's requires-python (tests/test_envcheck.py and tests/test_setup.py check).
PYTHONS = ("3.11", "3.12", "3.13")
EXPECTED = {
    "python": ", ".join(PYTHONS[:-1]) + " or " + PYTHONS[-1],
    "tensorflow": "2.21",
    "keras": "3.",
}
FIX = "open the notebook with the course kernel: run `make course` in the repository and use that JupyterLab"


class EnvironmentMismatch(RuntimeError):
    """The kernel is not the course environment; the message names the fix."""


def _tf_version() -> str | None:
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def environment_report(min_helpers: str = "0.1.0") -> tuple[dict[str, str], list[str]]:
    """(versions, problems) without raising: the testable core of :func:`check_environment`."""
    import helpers
    from helpers.datasets import data_dir, datasets_present

    versions = {
        "python": ".".join(map(str, sys.version_info[:3])),
        "tensorflow": _tf_version() or "missing",
        "keras": _safe_version("keras"),
        "helpers": helpers.__version__,
        "kernel": _kernel_label(),
    }
    problems = []
    if ".".join(versions["python"].split(".")[:2]) not in PYTHONS:
        problems.append(
            f"Python {versions['python']} is running; the course needs {EXPECTED['python']}."
        )
    for pkg in ("tensorflow", "keras"):
        if not versions[pkg].startswith(EXPECTED[pkg]):
            problems.append(
                f"{pkg} {versions[pkg]} is installed; the course needs {EXPECTED[pkg]}x."
            )
    if _key(versions["helpers"]) < _key(min_helpers):
        problems.append(
            f"helpers {versions['helpers']} is older than this notebook needs ({min_helpers}): "
            "pull the repository and run `make setup`."
        )
    present = datasets_present()
    for name, ok in present.items():
        versions[f"data:{name}"] = (
            "verified" if ok else f"MISSING in {data_dir()} (run `make data`)"
        )
    return versions, problems


def _kernel_label() -> str:
    """'course .venv' for the course's own environment, else the interpreter's prefix."""
    prefix = Path(sys.prefix).resolve()
    return "course .venv" if prefix == repo_root() / ".venv" else str(prefix)


def _safe_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "missing"


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".") if p.isdigit())


def check_environment(min_helpers: str = "0.1.0", quiet: bool = False) -> dict[str, str]:
    """Print the versions and data status; raise EnvironmentMismatch naming the fix if anything is off."""
    versions, problems = environment_report(min_helpers)
    if not quiet:
        width = max(map(len, versions))
        for k, v in versions.items():
            print(f"{k:<{width}}  {v}")
    if problems:
        raise EnvironmentMismatch(
            "This kernel is not the course environment:\n  - "
            + "\n  - ".join(problems)
            + f"\nFix: {FIX}."
        )
    if not quiet:
        print("Environment OK.")
    return versions


def repo_root() -> Path:
    """The repository root (the folder that holds ``helpers/``)."""
    return Path(__file__).resolve().parents[1]
