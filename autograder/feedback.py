"""Feedback that says which hidden test failed and why, never how it tests, and runs no script.

nbgrader's default feedback HTML shows every test cell's source (hidden tests
included, since autograding restores them), the full traceback, whose frames quote
source lines too, and everything the cells printed. :class:`HideTestCode` runs in
``GenerateFeedback`` before the HTML export and

* replaces an autograder test cell's source with ``# Test `<grade_id>` (hidden tests not shown)``;
* keeps, of a test cell's outputs, only its errors, each reduced to the single line
  ``ename: evalue`` (at most :data:`MAX_MESSAGE` characters); the checks in
  ``helpers.grading`` put a plain-language explanation in ``evalue``. Anything the cell
  printed is dropped: code run by the test (an event hook, the student's function) could
  print the test's own source;
* in every other cell, removes an output that quotes a line of the hidden tests (an
  answer cell that ran after the tests could print them from IPython's history);
* with ``hide_all_outputs`` (set by ``autograder.grade`` for a flagged submission), keeps
  no output of any cell but the tests' one-line messages.

:class:`SanitizeFeedback` runs after it: students read this page, and instructors open it
from the Formgrader, so Markdown cells, HTML and Markdown outputs and grader comments are
rendered and cleaned with bleach (no ``<script>``, no ``on*=`` attributes, links only to
``http``, ``https`` and ``mailto``), and outputs that could carry script (JavaScript, SVG,
widgets, unknown types) are dropped. nbconvert's ``SanitizeHTML`` does not suffice:
nbgrader's feedback template renders Markdown cells and comments itself, unsanitised,
and Markdown links (``[x](javascript:...)``) pass bleach before being rendered.
"""

from __future__ import annotations

import bleach
from nbconvert.filters.markdown import markdown2html
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Unicode

PLACEHOLDER = "# Test `{grade_id}` (hidden tests not shown)"
MAX_MESSAGE = 500
REMOVED = "[output removed from the feedback: it quoted the hidden tests]\n"
MIN_QUOTED = 16  # shorter test lines (`)`, `else:`) are too common to count as a quote


def is_test_cell(cell) -> bool:
    """An autograder test cell: a graded code cell that is not a student's answer."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def _text_of(output) -> str:
    """Every piece of text an output carries, joined (stream text, data, traceback)."""
    parts = [output.get("text", ""), output.get("evalue", "")]
    parts += [str(v) for v in output.get("data", {}).values()]
    parts += [str(line) for line in output.get("traceback", [])]
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


class HideTestCode(NbGraderPreprocessor):
    """Hide autograder test code, tracebacks and prints in feedback; keep the failure message."""

    placeholder = Unicode(
        PLACEHOLDER,
        help="Source shown instead of a test cell's code; "
        "{grade_id} is replaced by the cell's grade id.",
    ).tag(config=True)
    hide_all_outputs = Bool(
        False,
        help="Show no output of any cell but the tests' one-line "
        "messages (for a flagged submission).",
    ).tag(config=True)

    @staticmethod
    def one_line(ename: str, evalue: str) -> str:
        """``ename: evalue`` on one line, capped; an empty NotImplementedError says the task
        is not done yet."""
        ename = " ".join(str(ename).split())[:100]
        evalue = " ".join(str(evalue).split())
        if not evalue:
            if ename == "NotImplementedError":
                return (
                    "NotImplementedError: this task's code is not written yet "
                    "(`raise NotImplementedError()` is still in the answer cell)"
                )
            return ename
        line = f"{ename}: {evalue}"
        return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."

    def preprocess(self, nb, resources):
        self._hidden = set()
        for cell in nb.cells:
            if is_test_cell(cell):
                self._hidden.update(
                    line.strip()
                    for line in cell.source.splitlines()
                    if len(line.strip()) >= MIN_QUOTED
                )
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        if not is_test_cell(cell):
            if self.hide_all_outputs:
                cell.outputs = []
            else:
                cell.outputs = [self._unless_quoting(o) for o in cell.get("outputs", [])]
            return cell, resources
        grade_id = cell.metadata["nbgrader"].get("grade_id", f"cell-{cell_index}")
        cell.source = self.placeholder.format(grade_id=grade_id)
        outputs = []
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                evalue = str(output.get("evalue", ""))
                if self._quotes_tests(evalue):  # the traceback quotes them anyway: not shown
                    evalue = "(message removed from the feedback: it quoted the hidden tests)"
                output.traceback = [self.one_line(output.ename, evalue)]
                output.evalue = output.traceback[0].partition(": ")[2]
                outputs.append(output)
        cell.outputs = outputs
        return cell, resources

    def _quotes_tests(self, text: str) -> bool:
        return any(line in text for line in getattr(self, "_hidden", ()))

    def _unless_quoting(self, output):
        if self._quotes_tests(_text_of(output)):
            return new_output("stream", name="stdout", text=REMOVED)
        return output


# --------------------------------------------------------------------------- sanitising
ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "div",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
ALLOWED_ATTRIBUTES = {"a": ["href", "title"], "*": ["class"], "td": ["align"], "th": ["align"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
SAFE_OUTPUT_TYPES = ("text/plain", "image/png", "image/jpeg")


def clean_html(html: str) -> str:
    """``html`` with only harmless tags and attributes; unsafe ones are dropped, text kept."""
    return bleach.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
    )


def markdown_as_safe_html(markdown: str) -> str:
    """Markdown rendered, cleaned, and wrapped so that a later Markdown pass keeps it as is.

    The feedback template runs ``markdown2html`` on cell sources and comments once more: a
    ``<div>`` block without blank lines is passed through verbatim by Markdown (CommonMark
    HTML block), so nothing in the cleaned text can turn into a link or a tag again.
    """
    cleaned = clean_html(markdown2html(markdown))
    lines = [line for line in cleaned.splitlines() if line.strip()]
    return '<div class="sanitized">' + "\n".join(lines) + "</div>"


class SanitizeFeedback(NbGraderPreprocessor):
    """Clean every piece of HTML a student controls before the feedback page is written."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell.pop("attachments", None)
        if cell.cell_type in ("markdown", "raw"):
            cell.source = markdown_as_safe_html(cell.source)
            cell.cell_type = "markdown"
        comment = cell.metadata.get("nbgrader", {}).get("comment")
        if isinstance(comment, str) and comment:
            cell.metadata["nbgrader"]["comment"] = markdown_as_safe_html(comment)
        if cell.cell_type == "code":
            cell.outputs = [self._clean_output(o) for o in cell.get("outputs", [])]
        return cell, resources

    @staticmethod
    def _clean_output(output):
        if output.get("output_type") not in ("display_data", "execute_result"):
            return output  # stream and error text is escaped by the template
        data = output.get("data", {})
        kept = {k: v for k, v in data.items() if k in SAFE_OUTPUT_TYPES}
        if "text/html" in data:
            kept["text/html"] = clean_html(str(data["text/html"]))
        elif "text/markdown" in data:
            kept["text/html"] = markdown_as_safe_html(str(data["text/markdown"]))
        output["data"] = kept
        output["metadata"] = {
            k: v for k, v in output.get("metadata", {}).items() if k in SAFE_OUTPUT_TYPES
        }
        return output
