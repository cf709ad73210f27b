"""nbgrader configuration of the course (nbgrader 0.9.6).

Loaded by nbgrader run in this folder, and via ``../nbgrader_config.py`` by nbgrader
and JupyterLab's Formgrader started at the repository root. Every path is derived
from this file's location, so a scratch copy of the repository grades into itself.

Layout (relative to the repository root)::

    source_notebooks/<mission>/<mission>.ipynb   instructor versions (solutions, hidden tests)
    release/<mission>/<mission>.ipynb            what students get (`make release`)
    autograder/submitted/<student>/<mission>/    submissions (`make grade` copies them here)
    autograder/autograded/<student>/<mission>/   executed and scored copies
    autograder/feedback/<student>/<mission>/     one HTML report per notebook
    autograder/gradebook.db                      the gradebook (SQLite)
"""

import os
import sys
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    GetGrades,
    IgnorePattern,
    IncludeHeaderFooter,
    InstantiateTests,
    LimitOutput,
    LockCells,
    SaveAutoGrades,
    SaveCells,
)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autograder import COURSE_ID  # noqa: E402
from autograder import layout as folders  # noqa: E402
from autograder.feedback import HideTestCode, SanitizeFeedback  # noqa: E402
from autograder.guarded_execute import GuardedExecute  # noqa: E402
from autograder.release_filters import ClearExecutionRecord  # noqa: E402
from helpers import QUIET_TF_LOG_LEVEL  # noqa: E402

# Kernels started by nbgrader inherit this: TensorFlow's C++ log lines would otherwise
# reach test cells as stderr output, which nbgrader scores as a failed test.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)

c = get_config()  # noqa: F821 - injected by traitlets when it loads this file

# --------------------------------------------------------------------------- folders
course = folders.CourseLayout(ROOT)
c.CourseDirectory.root = str(course.root)
c.CourseDirectory.course_id = COURSE_ID
c.CourseDirectory.source_directory = folders.SOURCE_DIR
c.CourseDirectory.release_directory = folders.RELEASE_DIR
c.CourseDirectory.submitted_directory = folders.SUBMITTED_DIR
c.CourseDirectory.autograded_directory = folders.AUTOGRADED_DIR
c.CourseDirectory.feedback_directory = folders.FEEDBACK_DIR
c.CourseDirectory.solution_directory = folders.SOLUTION_DIR
c.CourseDirectory.db_url = course.db_url
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# The five missions (autograder.MISSIONS). `make release` runs generate_assignment for
# each, which adds it, its notebook and its graded cells to the gradebook, so the
# Formgrader lists all five; autograder.grade does the same when the gradebook is new.

# --------------------------------------------------------------------------- releasing
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
c.ClearHiddenTests.enforce_metadata = True
c.GenerateAssignment.create_assignment = True
# nbgrader's own steps, then the execution records (code fingerprints, cell timings) left by
# `make notebooks` removed: students get no trace of how the instructor's version ran.
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    ClearSolutions,
    ClearOutput,
    CheckCellMetadata,
    ComputeChecksums,
    SaveCells,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
    ClearExecutionRecord,
]

# --------------------------------------------------------------------------- executing
# Per cell. The longest reference cell is mission 1's training (ten epochs at batch 32):
# about 25 s on 2 idle cores, 115 s measured on a heavily loaded one. nbgrader's default
# of 30 s would kill it; 600 s leaves room for a slower student choice on a busy
# machine. autograder.grade adds a wall-clock limit per submission (900 s by default).
c.Execute.timeout = 600
c.ExecutePreprocessor.timeout = 600
c.Execute.interrupt_on_timeout = True
c.Execute.kernel_name = "python3"
# Once the last cell has run, the kernel has nothing left to give: stop it at once rather
# than ask it to exit and wait (nbclient's "graceful" default). A kernel that has loaded
# TensorFlow takes about 1.1 s to exit politely, every submission (make bench's kernel_stop).
c.Execute.shutdown_kernel = "immediate"

# nbgrader's own autograde steps, with Execute replaced by one that caps a cell's output
# while it runs (autograder/limits.py): a printing loop is cut at 2 MB and interrupted
# instead of filling the grader's memory until the cell times out; and that, before every
# locked cell, has the kernel guard put back what answer cells rewired (input transformers,
# event hooks, tracing, exception handlers, replaced functions, rebound names), see
# autograder/guarded_execute.py.
c.Autograde.autograde_preprocessors = [
    GuardedExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
c.CappedExecute.max_cell_output_bytes = 2 * 2**20
c.CappedExecute.max_notebook_output_bytes = 16 * 2**20

# A test cell the student deleted is put back from the gradebook and graded, rather than
# leaving the notebook at "needs manual grading" (nbgrader's default).
c.OverwriteCells.add_missing_cells = True

# Warnings and TensorFlow log lines on stderr would make nbgrader give a passing test
# cell zero points; drop such stderr outputs before scoring.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?m)(\w+Warning:|^[IWEF]\d{4} |WARNING:|warnings\.warn\()"

# --------------------------------------------------------------------------- feedback
# Hidden tests and their prints never reach a student (HideTestCode); HTML a student wrote
# or printed is cleaned, so the page runs no student script (SanitizeFeedback), and
# nbconvert's own sanitising covers the HTML outputs once more.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    HideTestCode,
    SanitizeFeedback,
    CSSHTMLHeaderPreprocessor,
]
c.HTMLExporter.sanitize_html = True

# The exchange (nbgrader's release/collect folder): the class's when COURSE_EXCHANGE is set
# (`make hub` sets it for every server, the Makefile for the instructor's commands), else a
# git-ignored folder of the course, created so no tab reports it missing (CourseLayout.exchange).
c.Exchange.root = str(course.ensure_exchange())
