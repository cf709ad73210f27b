"""Feedback that says which hidden test failed and why, never how it tests.

nbgrader's default feedback HTML shows every test cell's source (hidden tests
included, since autograding restores them) and the full traceback, whose frames
quote source lines too. :class:`HideTestCode` runs in ``GenerateFeedback`` before
the HTML export and, for autograder test cells only:

* replaces the source with ``# Test `<grade_id>` (hidden tests not shown)``;
* reduces every error output to the single line ``ename: evalue`` (the checks in
  ``helpers.grading`` put a plain-language explanation in ``evalue``);
* drops stderr streams (warnings quote source lines).

Students' own cells are left as they are.
"""

from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

PLACEHOLDER = "# Test `{grade_id}` (hidden tests not shown)"


def is_test_cell(cell) -> bool:
    """An autograder test cell: a graded code cell that is not a student's answer."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


class HideTestCode(NbGraderPreprocessor):
    """Hide autograder test code and tracebacks in feedback; keep the failure message."""

    placeholder = Unicode(PLACEHOLDER, help="Source shown instead of a test cell's code; "
                          "{grade_id} is replaced by the cell's grade id.").tag(config=True)

    @staticmethod
    def one_line(ename: str, evalue: str) -> str:
        """``ename: evalue``; an empty NotImplementedError says the task is not done yet."""
        if not str(evalue).strip():
            if ename == "NotImplementedError":
                return ("NotImplementedError: this task's code is not written yet "
                        "(`raise NotImplementedError()` is still in the answer cell)")
            return ename
        return f"{ename}: {evalue}"

    def preprocess_cell(self, cell, resources, cell_index):
        if not is_test_cell(cell):
            return cell, resources
        grade_id = cell.metadata["nbgrader"].get("grade_id", f"cell-{cell_index}")
        cell.source = self.placeholder.format(grade_id=grade_id)
        outputs = []
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [self.one_line(output.ename, output.evalue)]
            elif output.output_type == "stream" and output.name == "stderr":
                continue
            outputs.append(output)
        cell.outputs = outputs
        return cell, resources
