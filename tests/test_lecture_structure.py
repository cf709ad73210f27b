"""Every lecture ends the same way: Exercises, folded Answers, "What to remember", a Korean 요약.

The shape is described in docs/NOTEBOOK_STYLE.md ("Exercises and answers"). These tests read the
notebooks as JSON and parse their code with ``ast``; they execute nothing (nbval does that).
"""

import ast
import json
import re
from pathlib import Path

import pytest

import helpers.exercises

LECTURES = sorted((Path(__file__).resolve().parents[1] / "course").glob("0*.ipynb"))
HANGUL = re.compile(r"[\uac00-\ud7a3]")
EXERCISE_HEADING = re.compile(r"^### Exercise (\d+) \(([^)]+)\): \S")
# The glossary's one spelling of each term, and the variants that must not appear in summaries.
FORBIDDEN_SPELLINGS = ["에포크", "완전 연결", "He 초기화", "Xavier 초기화"]


def _cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(c["cell_type"], "".join(c["source"]), c) for c in cells]


def _index(cells, predicate, what):
    hits = [i for i, (kind, src, _) in enumerate(cells) if predicate(kind, src)]
    assert len(hits) == 1, f"expected exactly one {what}, found {len(hits)}"
    return hits[0]


def _sections(path):
    cells = _cells(path)
    ex = _index(
        cells,
        lambda k, s: k == "markdown" and s.startswith("## Exercises (연습 문제)"),
        "'## Exercises (연습 문제)' heading",
    )
    ans = _index(
        cells,
        lambda k, s: k == "markdown" and s.startswith("## Answers (해답)"),
        "'## Answers (해답)' heading",
    )
    rem = _index(
        cells,
        lambda k, s: k == "markdown" and s.startswith("## What to remember"),
        "cell starting with '## What to remember'",
    )
    return cells, ex, ans, rem


def test_there_are_seven_lectures():
    assert len(LECTURES) == 7


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_exercises_answers_remember_summary_in_this_order(path):
    cells, ex, ans, rem = _sections(path)
    assert ex < ans < rem, "order must be Exercises, Answers, What to remember"
    assert not any(k == "markdown" and s.startswith("## ") for k, s, _ in cells[rem + 1 :]), (
        "nothing but the summary may follow 'What to remember'"
    )
    kind, last, _ = cells[-1]
    assert kind == "markdown" and last.startswith("### 요약"), "the last cell is the Korean summary"
    assert len(HANGUL.findall(last)) > 100, "the 요약 must be written in Korean"
    for variant in FORBIDDEN_SPELLINGS:
        assert variant not in last, f"use the glossary's spelling, not {variant!r}"
    assert cells[ex + 1][1].strip() == "from helpers import exercises"


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_three_to_five_exercises_each_checked_or_answered(path):
    cells, ex, ans, rem = _sections(path)
    headings = [
        (i, EXERCISE_HEADING.match(s))
        for i, (k, s, _) in enumerate(cells[ex:ans], start=ex)
        if k == "markdown" and s.startswith("### Exercise")
    ]
    assert all(m for _, m in headings), "exercise headings read '### Exercise N (kind): title'"
    numbers = [int(m.group(1)) for _, m in headings]
    assert 3 <= len(numbers) <= 5 and numbers == list(range(1, len(numbers) + 1))
    answers = "\n".join(s for _, s, _ in cells[ans:rem])
    bounds = [i for i, _ in headings] + [ans]
    for (start, match), end in zip(headings, bounds[1:], strict=True):
        n, kind = match.group(1), match.group(2)
        body = cells[start + 1 : end]
        if kind == "inline question":
            assert any(k == "markdown" and s.startswith("**Your answer:**") for k, s, _ in body)
            assert f"<summary><b>Exercise {n}</b>" in answers, f"exercise {n} has no model answer"
        else:
            _assert_answer_then_check(n, body)


def _assert_answer_then_check(n, body):
    """A '# EXERCISE n' cell holding only placeholders, then a checked cell calling a real check."""
    codes = [(src, cell) for kind, src, cell in body if kind == "code"]
    assert len(codes) >= 2 and codes[0][0].startswith(f"# EXERCISE {n}:"), (
        f"exercise {n}: answer cell"
    )
    for node in ast.parse(codes[0][0]).body:
        if isinstance(node, ast.Assign):
            assert isinstance(node.value, ast.Constant) and node.value.value is None, (
                f"exercise {n}: the committed answer must be the placeholder None"
            )
        elif isinstance(node, ast.FunctionDef) and node.name != "tanh_forward":
            last = node.body[-1]
            assert (
                isinstance(last, ast.Return)
                and isinstance(last.value, ast.Constant)
                and last.value.value is None
            ), f"exercise {n}: {node.name} must end in `return None`"
    check_src, check_cell = codes[1]
    assert check_src.startswith("# NBVAL_CHECK_OUTPUT\n"), (
        f"exercise {n}: the check's output is guarded"
    )
    called = {
        node.func.attr
        for node in ast.walk(ast.parse(check_src))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "exercises"
    }
    assert called and called <= set(helpers.exercises.__all__), f"exercise {n}: calls {called}"
    for output in check_cell.get("outputs", []):
        text = "".join(output.get("text", "")) + "".join(
            output.get("data", {}).get("text/plain", "")
        )
        for line in filter(None, text.splitlines()):
            assert line.startswith("Not answered yet:"), (
                f"exercise {n}: committed outputs must come from the placeholders, got {line!r}"
            )
    for src, _ in codes[2:]:
        assert src.lstrip().startswith("if ") and "is not None" in src.splitlines()[0], (
            f"exercise {n}: a 'then run' cell waits for the answer (`if ... is not None:`)"
        )


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_answers_are_folded(path):
    cells, _, ans, rem = _sections(path)
    assert cells[ans][2]["metadata"].get("jp-MarkdownHeadingCollapsed") is True, (
        "the Answers heading must open collapsed in JupyterLab"
    )
    for kind, src, _ in cells[ans + 1 : rem]:
        assert (
            kind == "markdown"
            and src.startswith("<details>")
            and src.rstrip().endswith("</details>")
        ), "every model answer is wrapped in <details> so it stays folded outside JupyterLab too"
