"""Strip what executing the instructor notebook left in its metadata from the student version.

Why: ``make notebooks`` records a fingerprint of every code cell of the instructor notebook
(``metadata.course_execution``, see ``tools/execute_notebooks.py``) and nbclient records when
each cell ran (``cell.metadata.execution``). nbgrader copies metadata into ``release/``
unchanged, so students would receive fingerprints of the solution cells and the
instructor's timestamps: meaningless to them, and a release that changes whenever the
instructor re-executes. :class:`ClearExecutionRecord` runs last in ``GenerateAssignment``.
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode


class ClearExecutionRecord(NbGraderPreprocessor):
    """Remove execution records from the notebook's and each cell's metadata."""

    notebook_keys = List(
        Unicode(), ["course_execution"], help="Notebook metadata keys removed from the release."
    ).tag(config=True)
    cell_keys = List(
        Unicode(), ["execution"], help="Cell metadata keys removed from the release."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        for key in self.notebook_keys:
            nb.metadata.pop(key, None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        for key in self.cell_keys:
            cell.metadata.pop(key, None)
        return cell, resources
