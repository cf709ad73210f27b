"""Where a course's folders are: the one object every part of the grader asks.

Why: nbgrader's configuration, the grading pipeline, the release step, the sandbox and the
benchmarks all need the same paths (submissions, autograded notebooks, feedback, the
gradebook). Spelling ``root / "autograder" / "submitted"`` in each of them let them drift;
a scratch copy of the course (tests, benchmarks, one shard of a class) is just another
``CourseLayout(root)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The repository this package was loaded from (autograder/ lives at its top).
REPO = Path(__file__).resolve().parents[1]

# nbgrader's CourseDirectory folders, relative to the course root (nbgrader_config.py).
SOURCE_DIR = "source_notebooks"
RELEASE_DIR = "release"
SUBMITTED_DIR = "autograder/submitted"
AUTOGRADED_DIR = "autograder/autograded"
FEEDBACK_DIR = "autograder/feedback"
SOLUTION_DIR = "autograder/solution"
EXCHANGE_DIR = "autograder/exchange"
INBOX_DIR = "autograder/inbox"  # what `make collect` stages for `make grade`
COLLECTED_DIR = "autograder/collected"  # nbgrader collect's copies (latest per student)
EXCHANGE_ENV = "COURSE_EXCHANGE"  # the class's exchange, set by `make hub` and the Makefile


@dataclass(frozen=True)
class CourseLayout:
    """The folders and files of the course rooted at ``root``."""

    root: Path

    @classmethod
    def at(cls, root: Path | str) -> CourseLayout:
        return cls(Path(root).resolve())

    # ------------------------------------------------------------------ folders
    @property
    def grader(self) -> Path:
        """``autograder/``: configuration, gradebook, log, grades.csv."""
        return self.root / "autograder"

    @property
    def source(self) -> Path:
        return self.root / SOURCE_DIR

    @property
    def release(self) -> Path:
        return self.root / RELEASE_DIR

    @property
    def submitted(self) -> Path:
        return self.root / SUBMITTED_DIR

    @property
    def autograded(self) -> Path:
        return self.root / AUTOGRADED_DIR

    @property
    def feedback(self) -> Path:
        return self.root / FEEDBACK_DIR

    @property
    def solution(self) -> Path:
        return self.root / SOLUTION_DIR

    @property
    def exchange(self) -> Path:
        """nbgrader's exchange: ``$COURSE_EXCHANGE`` when set, else ``autograder/exchange``.

        Why not a fixed folder: on a class server (``make hub``) the exchange is the class's,
        shared by every account; a path fixed inside the repository made nbgrader run from
        the course root miss it (``release_feedback``: "Unwritable directory").
        """
        env = os.environ.get(EXCHANGE_ENV)
        return Path(env) if env else self.root / EXCHANGE_DIR

    def ensure_exchange(self) -> Path:
        """:attr:`exchange`, with the course's own folder created when that is the one used:
        otherwise the Assignments tab and the Formgrader report "The exchange directory ...
        does not exist and could not be created"."""
        folder = self.exchange
        if not os.environ.get(EXCHANGE_ENV):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # a read-only checkout: nbgrader says so when the exchange is used
        return folder

    @property
    def inbox(self) -> Path:
        return self.root / INBOX_DIR

    @property
    def collected(self) -> Path:
        return self.root / COLLECTED_DIR

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    # ------------------------------------------------------------------ files
    @property
    def gradebook_db(self) -> Path:
        return self.grader / "gradebook.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.gradebook_db}"

    @property
    def grades_csv(self) -> Path:
        return self.grader / "grades.csv"

    @property
    def grade_log(self) -> Path:
        return self.grader / "grade.log"

    @property
    def nbgrader_config(self) -> Path:
        return self.root / "nbgrader_config.py"

    # ------------------------------------------------------------------ one submission
    def release_notebook(self, mission: str) -> Path:
        return self.release / mission / f"{mission}.ipynb"

    def submitted_folder(self, student: str, mission: str) -> Path:
        return self.submitted / student / mission

    def submitted_notebook(self, student: str, mission: str) -> Path:
        return self.submitted_folder(student, mission) / f"{mission}.ipynb"

    def autograded_notebook(self, student: str, mission: str) -> Path:
        return self.autograded / student / mission / f"{mission}.ipynb"

    def feedback_folder(self, student: str, mission: str) -> Path:
        return self.feedback / student / mission


COURSE = CourseLayout(REPO)
