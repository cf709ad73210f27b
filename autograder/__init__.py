"""nbgrader tooling for the course's graded missions.

* ``nbgrader_config.py``: the course's nbgrader configuration (folders, gradebook,
  time limits, feedback that hides hidden tests). ``../nbgrader_config.py`` loads it,
  so nbgrader works from the repository root and from this folder.
* ``layout.py``: ``CourseLayout``, the one object that knows a course's folders.
* ``nbgrader_run.py``: the one way nbgrader is started (limit, process-group kill).
* ``gradebook.py``: reads and writes the gradebook (plain arguments, plain values).
* ``release.py``: ``make release`` regenerates ``release/`` from ``source_notebooks/``.
* ``grade.py``: ``make grade SUBMISSIONS=<dir>``: the pipeline that takes every submission
  in, grades it and writes ``grades.csv``; ``grading_job.py``: one submission's job and what
  it left (``Outcome``); ``nbgrader_job.py``: the job itself (autograde, flags, feedback in
  one process); ``forkserver.py``: the warm process each job is forked from.
* ``shards.py``: ``--shard I/N`` bundles and their merge (docs/grading-at-scale.md).
* ``classroom.py`` and ``export.py``: ``make publish``, ``collect``, ``feedback`` and
  ``export`` (grades.csv, grades_lms.csv) for a class on the hub.
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

from pathlib import Path

from autograder.layout import REPO, CourseLayout

ROOT = REPO  # the repository's course; autograder.layout.CourseLayout knows its folders
COURSE_ID = "dl-course-missions"
MISSIONS = (
    "mission1_base_model",
    "mission2_early_stopping",
    "mission3_dropout",
    "mission4_callback_99",
    "mission5_backprop_numpy",
)


class PipelineError(RuntimeError):
    """The grading pipeline itself failed (not a student's code)."""


def db_url(root: Path = ROOT) -> str:
    """The gradebook of the course at ``root``: ``sqlite:///<root>/autograder/gradebook.db``."""
    return CourseLayout(Path(root)).db_url
