"""One submission's job as autograder/grading_job.py reads it: when a failed job runs again,
and how its wall time splits into make bench's phases."""

import json
from pathlib import Path

import nbformat
import pytest

from autograder.grading_job import autograde_problem, job_phases, locked_before_any_cell

LOCKED_LOG = (
    "[AutogradeApp | ERROR] (sqlite3.OperationalError) database is locked\n"
    "nbgrader.coursedir.NbGraderException: Please see the error log above\n"
)
# What nbclient prints when a cell ignores its interrupt: the cell's first lines, which the
# student wrote, are in the job's output.
TIMEOUT_LOG = (
    "nbclient.exceptions.CellTimeoutError: A cell timed out while it was being executed, "
    "after 45 seconds.\nHere is a preview of the cell contents:\n-------------------\n"
    "# database is locked\nwhile True:\n    pass\n-------------------\n"
)


def test_a_gradebook_locked_before_the_first_cell_is_tried_again():
    assert locked_before_any_cell(1, LOCKED_LOG, {})
    assert locked_before_any_cell(1, LOCKED_LOG, {"first_cell": None})


@pytest.mark.parametrize(
    "code, output, timing",
    [
        (0, LOCKED_LOG, {}),  # it succeeded
        (1, "nbgrader failed: no such notebook", {}),  # another failure: once is enough
        (None, LOCKED_LOG, {}),  # killed at its limit: never again
        # killed by a signal (out of memory) before its timing file was written, after the
        # kernel had printed the words to its own stdout: never again either
        (-9, LOCKED_LOG, {}),
        # the student's own words in a looping cell do not buy more runs of the limit
        (1, TIMEOUT_LOG, {"first_cell": 1764886800.0}),
    ],
)
def test_other_failures_are_not_tried_again(code, output, timing):
    assert not locked_before_any_cell(code, output, timing)


def test_the_phases_add_up_to_the_jobs_wall_time():
    spawned = 1000.0
    timing = {
        "preprocess_start": 1000.2,
        "first_cell": 1000.8,
        "last_cell_end": 1016.0,
        "preprocess_end": 1016.05,
        "cells": {"answer": 12.0, "instructor": 1.5, "test": 1.6},
    }
    result = {
        "autograde_end": 1016.1,
        "flags_and_gradebook": 0.02,
        "feedback": 0.5,
        "finished": 1016.7,
        "kernel_max_rss_mib": 1300.0,
    }
    phases = job_phases(timing, result, spawned, seconds=16.72)
    assert phases["nbgrader_startup"] == pytest.approx(0.2)
    assert phases["kernel_start"] == pytest.approx(0.6)
    assert phases["notebook_cells"] == pytest.approx(13.5)
    assert phases["hidden_tests"] == pytest.approx(1.6)
    assert phases["kernel_stop"] == pytest.approx(0.05)
    assert phases["autograde_finish"] == pytest.approx(0.05)
    assert phases["job_exit"] == pytest.approx(0.02)
    assert phases["kernel_max_rss_mib"] == 1300.0


def test_a_job_that_never_reached_the_notebook_is_one_figure():
    assert job_phases({}, {}, 1000.0, seconds=3.0) == {"autograde": 3.0}


def test_the_failed_line_says_what_stopped_the_job():
    assert "timed out after 150 s (killed)" in autograde_problem(None, "", 150)
    assert "per-cell time limit" in autograde_problem(1, TIMEOUT_LOG, 150)
    assert "kernel died" in autograde_problem(1, "DeadKernelError: Kernel died", 150)


def test_a_job_killed_by_a_signal_is_said_so_not_in_its_kernels_words():
    problem = autograde_problem(-9, LOCKED_LOG, 150)
    assert "killed by signal 9" in problem and "database is locked" not in problem


class _KilledJob:
    """A job server whose job ran cells, then was killed at its limit (or not: no cell)."""

    def __init__(self, cells_ran: bool):
        self.cells_ran = cells_ran

    def run(self, argv, env, output, timeout):
        from autograder.guarded_execute import PHASES_ENV
        from autograder.nbgrader_run import Run

        if self.cells_ran:
            Path(env[PHASES_ENV]).write_text(json.dumps({"first_cell": 1.0}))
        return Run(None, "", 1.0)


def _flagged_submission(root: Path, student: str, mission: str) -> None:
    """A submitted notebook whose answer cell calls exec (the scan flags it)."""
    from autograder.layout import CourseLayout

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("exec('answer = 42')")
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "answer"}
    nb.cells.append(cell)
    path = CourseLayout(root).submitted_notebook(student, mission)
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)


@pytest.mark.parametrize("cells_ran", [True, False])
def test_a_flagged_notebook_whose_job_was_killed_keeps_no_points(tmp_path, monkeypatch, cells_ran):
    """nbgrader saves scores before the job applies the flags: a job killed in between must
    not leave a flagged notebook's points standing (the grader zeroes them itself)."""
    from autograder import gradebook, grading_job
    from autograder.layout import CourseLayout

    zeroed = []
    monkeypatch.setattr(
        gradebook, "zero_pending_review", lambda db, s, m, flags: zeroed.append((s, m, flags))
    )
    mission = "mission5_backprop_numpy"
    _flagged_submission(tmp_path, "ana", mission)
    taken = grading_job.Outcome("ana", mission, taken_in=True)
    outcome = grading_job._grade_one(
        CourseLayout(tmp_path), taken, grading_job.Settings(timeout=5), _KilledJob(cells_ran)
    )
    assert not outcome.graded and "timed out after 5 s" in outcome.problems[0]
    if cells_ran:
        assert outcome.flags and "exec" in outcome.flags[0]
        assert zeroed == [("ana", mission, list(outcome.flags))]
    else:  # no cell ran: nbgrader saved nothing of this run, nothing to take away
        assert outcome.flags == () and zeroed == []
