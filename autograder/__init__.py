"""nbgrader tooling for the course's graded missions.

* ``nbgrader_config.py``: the course's nbgrader configuration (folders, gradebook,
  time limits, feedback that hides hidden tests). ``../nbgrader_config.py`` loads it,
  so nbgrader works from the repository root and from this folder.
* ``release.py``: ``make release`` regenerates ``release/`` from ``source_notebooks/``.
* ``grade.py``: ``make grade SUBMISSIONS=<dir>`` autogrades every submission.
* ``feedback.py``: the feedback preprocessors that show a failing hidden test's
  message but never its code or prints, and clean student HTML.
* ``intake.py``: checks a handed-in folder and copies only the notebook to be graded.
* ``sandbox.py``: runs each graded kernel inside bubblewrap (no solutions, hidden tests,
  gradebook or other submissions in sight; installed code read-only; no privileges even
  when grading as root; no network; a disk budget).
* ``kernel_channels.py``: lets nbgrader reach the sandboxed kernel over Unix sockets no
  other kernel can see.
* ``limits.py``: caps a cell's output while it runs.
* ``guarded_execute.py`` and ``kernel_guard.py``: before every locked cell, put back what
  answer cells rewired in the kernel (IPython's machinery, replaced functions, rebound names).
* ``scan.py``: flags answer cells that replace what the tests rely on.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COURSE_ID = "dl-course-missions"
MISSIONS = (
    "mission1_base_model",
    "mission2_early_stopping",
    "mission3_dropout",
    "mission4_callback_99",
)


EXCHANGE_ENV = "COURSE_EXCHANGE"


def exchange_root(root: Path = ROOT, environ=None) -> Path:
    """nbgrader's exchange: ``$COURSE_EXCHANGE`` when set, else ``<root>/autograder/exchange``.

    Why not a fixed folder: on a class server (``make hub``) the exchange is the class's,
    shared by every account, and the hub sets ``COURSE_EXCHANGE`` for every server and the
    Makefile for the instructor's commands; a fixed path inside the repository made nbgrader
    run from the course root miss it (``release_feedback``: "Unwritable directory"). Alone
    on a laptop, the course's git-ignored folder serves, created here so the Assignments tab
    and the Formgrader do not report a missing exchange.
    """
    environ = os.environ if environ is None else environ
    if environ.get(EXCHANGE_ENV):
        return Path(environ[EXCHANGE_ENV])
    folder = Path(root) / "autograder" / "exchange"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # a read-only checkout: nbgrader reports it when it is used
    return folder


def db_url(root: Path = ROOT) -> str:
    """The gradebook of the course at ``root``: ``sqlite:///<root>/autograder/gradebook.db``."""
    return f"sqlite:///{Path(root) / 'autograder' / 'gradebook.db'}"
