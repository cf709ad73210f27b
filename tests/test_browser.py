"""End to end in a real browser: a student and an instructor use the course in JupyterLab.

Debian's Chromium (installed with apt-get when missing) is driven by Playwright against a
JupyterLab started from the project's .venv on a scratch copy of the course:

* student: the first lecture opens with its title and a rendered plot; in mission 1 a correct
  answer is typed into the answer cell, Run All passes every self-check, nbgrader's Validate
  button reports success; a wrong answer makes Validate report the failing cell;
* instructor: the Formgrader (menu Nbgrader > Formgrader) lists every mission in autograder.MISSIONS.

Each step leaves a screenshot in screenshots/ (git-ignored). Run alone with
``python -m pytest tests/test_browser.py -m browser``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from browser_support import (
    APT_COMMAND,
    CHROMIUM_ARGS,
    SetupError,
    copy_course,
    ensure_chromium,
    jupyter_lab,
)

from autograder import MISSIONS

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
SHOTS = REPO / "screenshots"
LECTURE = "course/01_feedforward_keras_mnist.ipynb"
MISSION = "release/mission1_base_model/mission1_base_model.ipynb"

# Bounded waits (ms). Generous: the suite shares two CPU cores with TensorFlow.
UI = 60_000
KERNEL_START = 180_000
RUN_ALL = 600_000
VALIDATE = 600_000

# A wrong answer for each of mission 1's answer cells (keyed by the function the cell defines),
# written under the released signature. It fails fast: no hidden layer (2 layers after the
# input, not 3), the wrong loss, and one epoch on 1,000 images instead of ten on 50,000.
WRONG_BODIES = {
    "build_base_model": (
        "    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),\n"
        '                              keras.layers.Dense(10, activation="softmax")])\n'
        '    model.compile(optimizer="sgd", loss="mse")\n'
        "    return model\n"
    ),
    "train_base_model": "    return model.fit(x_train[:1000], y_train[:1000], epochs=1, verbose=0)\n",
}
SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.M)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def chromium() -> Path:
    try:
        return ensure_chromium()
    except SetupError as exc:
        pytest.fail(
            f"{exc}\n(The browser test needs Debian's Chromium: {APT_COMMAND})", pytrace=False
        )


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A scratch copy of the course, as an instructor's checkout holds it."""
    for rel in (LECTURE, MISSION):
        assert (REPO / rel).is_file(), f"{rel} is missing"
    return copy_course(REPO, tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def lab(course, tmp_path_factory):
    try:
        with jupyter_lab(VENV_BIN, course, tmp_path_factory.mktemp("jupyter-home")) as server:
            yield server
    except SetupError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def browser_context(chromium, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900},
        )
        context.set_default_timeout(UI)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context, request):
    """A fresh tab; when the test fails, a screenshot of where it stopped."""
    failed_before = request.session.testsfailed
    page = browser_context.new_page()
    yield page
    if request.session.testsfailed > failed_before:
        page.screenshot(path=SHOTS / f"browser_FAILED_{request.node.name}.png")
    page.close()


# --------------------------------------------------------------------------- page helpers


def shot(page, name: str) -> Path:
    path = SHOTS / f"browser_{name}.png"
    page.screenshot(path=path)
    return path


def open_notebook(page, lab, rel: str) -> None:
    """Open ``rel`` in a fresh JupyterLab workspace and wait until its kernel is idle."""
    page.goto(lab.url(f"lab/tree/{rel}?reset"))
    page.wait_for_function(
        """name => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            return !!(w && w.context && w.context.path.endsWith(name) && w.context.isReady
                      && w.content.widgets.length > 0);
        }""",
        arg=Path(rel).name,
        timeout=UI * 2,
    )
    wait_kernel_idle(page, KERNEL_START)


def wait_kernel_idle(page, timeout: float) -> None:
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return !!k && k.status === 'idle';
        }""",
        timeout=timeout,
    )


def notebook_state(page) -> list[dict]:
    """Every cell of the current notebook: type, source, execution count, outputs, nbgrader data."""
    return page.evaluate(
        """() => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            return nb.widgets.map(c => ({
                type: c.model.type,
                source: c.model.sharedModel.getSource(),
                count: c.model.type === 'code' ? c.model.executionCount : null,
                state: c.model.type === 'code' ? c.model.executionState : null,
                outputs: c.model.type === 'code' ? c.model.outputs.toJSON() : [],
                nbgrader: c.model.getMetadata('nbgrader') || null,
            }));
        }"""
    )


def answer_cells(cells: list[dict]) -> dict[str, int]:
    """The student's answer cells (nbgrader solution cells): grade_id -> index."""
    return {
        c["nbgrader"]["grade_id"]: i
        for i, c in enumerate(cells)
        if c["type"] == "code" and (c["nbgrader"] or {}).get("solution")
    }


def cell_locator(page, index: int):
    """The DOM node of cell ``index`` of the current notebook (tagged through the lab's model)."""
    page.evaluate(
        """i => {
            document.querySelectorAll('[data-e2e-cell]').forEach(n => n.removeAttribute('data-e2e-cell'));
            window.jupyterapp.shell.currentWidget.content.widgets[i].node.setAttribute('data-e2e-cell', 'yes');
        }""",
        index,
    )
    return page.locator("[data-e2e-cell='yes']")


def type_into_cell(page, index: int, text: str) -> None:
    """Replace a cell's source through its CodeMirror editor: click, select all, insert text."""
    editor = cell_locator(page, index).locator(".cm-content")
    editor.scroll_into_view_if_needed()
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    # insert_text sends the text as one input event, as a paste would: CodeMirror's auto-indent
    # (which re-indents typed newlines) leaves it as written.
    page.keyboard.insert_text(text)
    page.keyboard.press("Escape")  # leave edit mode
    source = notebook_state(page)[index]["source"]
    assert source.strip() == text.strip(), f"the editor holds something else:\n{source}"


def menu(page, top: str, item: str) -> None:
    """Click JupyterLab's menu bar entry ``top``, then its item ``item``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(top)}$")).click()
    page.locator(
        ".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel",
        has_text=re.compile(rf"^{re.escape(item)}$"),
    ).first.click()


def wait_run_all_done(page, timeout: float) -> list[dict]:
    """Wait until no cell is queued or running and the kernel is idle, twice a second apart."""
    deadline = time.monotonic() + timeout / 1000
    settled = 0
    while time.monotonic() < deadline:
        busy = page.evaluate(
            """() => {
                const w = window.jupyterapp.shell.currentWidget;
                const k = w.sessionContext.session && w.sessionContext.session.kernel;
                const running = w.content.widgets.some(c => c.model.type === 'code'
                    && (c.model.executionState === 'running'
                        || (c.promptNode && c.promptNode.textContent.includes('*'))));
                return running || !k || k.status !== 'idle';
            }"""
        )
        settled = 0 if busy else settled + 1
        if settled >= 2:
            return notebook_state(page)
        page.wait_for_timeout(1000)
    raise AssertionError(f"Run All did not finish within {timeout / 1000:.0f} s")


def error_outputs(cells: list[dict]) -> list[str]:
    return [
        f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, c in enumerate(cells)
        for o in c["outputs"]
        if o.get("output_type") == "error"
    ]


def validate(page) -> tuple[str, str]:
    """Press nbgrader's Validate toolbar button; return the result dialog's class list and text.

    The dialog is nbgrader 0.9.6's (labextension ``validate_assignment``): title "Validation
    Results", body ``#validation-message`` with class ``validation-success`` ("Success! Your
    notebook passes all the tests.") or ``validation-failed`` ("The following cell failed:" and
    the cell's source and traceback, once per failing cell).
    """
    started = time.monotonic()
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.locator(".validate-button").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(state="visible", timeout=VALIDATE)
    header = dialog.locator(".jp-Dialog-header").inner_text()
    assert "Validation Results" in header, f"Validate answered {header!r}: {dialog.inner_text()}"
    message = dialog.locator("#validation-message")
    print(f"[browser] Validate: {time.monotonic() - started:.0f} s")
    return message.get_attribute("class") or "", message.inner_text()


def close_dialog(page) -> None:
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached")


# --------------------------------------------------------------------------- the tests


def _lecture_title() -> str:
    nb = json.loads((REPO / LECTURE).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise AssertionError(f"{LECTURE} has no '# ' title")


def test_student_opens_first_lecture(page, lab):
    title = _lecture_title()
    open_notebook(page, lab, LECTURE)
    tab = page.locator(
        "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel"
    ).first
    assert Path(LECTURE).name in tab.inner_text()
    heading = page.locator(".jp-Notebook .jp-MarkdownOutput h1").first
    heading.wait_for(state="visible")
    assert title in heading.inner_text().replace("¶", "").strip()
    shot(page, "01_lecture_title")

    plot = page.locator(".jp-Notebook .jp-OutputArea-output img").first
    plot.wait_for(state="attached")
    plot.scroll_into_view_if_needed()
    width = page.wait_for_function(
        "img => img.complete && img.naturalWidth", arg=plot.element_handle()
    )
    assert width.json_value() > 100, "the plot image did not render"
    shot(page, "01_lecture_plot")


def _instructor_solutions() -> dict[str, str]:
    """grade_id -> the instructor's solution for each answer cell of mission 1, markers removed."""
    source = REPO / "source_notebooks" / Path(MISSION).relative_to("release")
    nb = json.loads(source.read_text())
    return {
        c["metadata"]["nbgrader"]["grade_id"]: SOLUTION_MARKERS.sub("", "".join(c["source"]))
        for c in nb["cells"]
        if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("solution")
    }


def _wrong_answer(stub: str) -> str:
    """The released stub's ``def`` line with a wrong body from WRONG_BODIES."""
    match = re.search(r"^def (\w+)\(.*$", stub, re.M)
    assert match and match.group(1) in WRONG_BODIES, f"no wrong answer prepared for:\n{stub}"
    return f"{match.group(0)}\n{WRONG_BODIES[match.group(1)]}"


def test_student_solves_and_validates_mission1(page, lab):
    solutions = _instructor_solutions()
    open_notebook(page, lab, MISSION)
    cells = notebook_state(page)
    answers = answer_cells(cells)
    assert answers, "the student notebook has no answer cell"
    assert sorted(answers) == sorted(solutions), (
        f"answer cells {sorted(answers)} vs source {sorted(solutions)}"
    )
    stubs = {gid: cells[i]["source"] for gid, i in answers.items()}
    for gid, stub in stubs.items():
        assert "raise NotImplementedError" in stub, f"answer cell {gid} is not a stub:\n{stub}"

    # A correct answer, typed: the instructor's solution.
    for gid, index in answers.items():
        type_into_cell(page, index, solutions[gid])
    cell_locator(page, min(answers.values())).scroll_into_view_if_needed()
    shot(page, "02_mission1_answer_typed")

    started = time.monotonic()
    menu(page, "Run", "Run All Cells")
    cells = wait_run_all_done(page, RUN_ALL)
    print(f"[browser] Run All Cells: {time.monotonic() - started:.0f} s")
    shot(page, "03_mission1_run_all")
    errors = error_outputs(cells)
    assert not errors, "self-checks failed after Run All:\n" + "\n".join(errors)
    unrun = [i for i, c in enumerate(cells) if c["type"] == "code" and c["count"] is None]
    assert not unrun, f"cells {unrun} did not run"
    checks = [c for c in cells if c["type"] == "code" and (c["nbgrader"] or {}).get("grade")]
    assert checks, "no visible self-check (autograded test) cell in the student notebook"

    classes, text = validate(page)
    shot(page, "04_mission1_validate_success")
    assert "validation-success" in classes, f"Validate did not report success:\n{text}"
    assert "Success! Your notebook passes all the tests." in text
    close_dialog(page)

    # A wrong answer, typed: Validate names the failing test cells.
    for gid, index in answers.items():
        type_into_cell(page, index, _wrong_answer(stubs[gid]))
    classes, text = validate(page)
    shot(page, "05_mission1_validate_failure")
    assert "validation-failed" in classes, f"Validate did not report a failure:\n{text}"
    assert "The following cell failed:" in text
    assert "Expected 3 layers" in text, text
    close_dialog(page)


def test_instructor_sees_missions_in_formgrader(page, lab):
    expected = sorted(MISSIONS)
    on_disk = sorted(p.name for p in (REPO / "source_notebooks").glob("mission*_*") if p.is_dir())
    assert on_disk == expected, f"source_notebooks/ holds {on_disk}, autograder.MISSIONS {expected}"

    page.goto(lab.url("lab?reset"))
    page.locator("#jp-main-dock-panel").wait_for(state="visible")
    menu(page, "Nbgrader", "Formgrader")
    frame = page.frame_locator("iframe[src*='formgrader']")
    names = frame.locator("td.name a")
    for name in expected:
        names.filter(has_text=re.compile(rf"^{re.escape(name)}$")).wait_for(state="visible")
    listed = sorted(names.all_inner_texts())
    shot(page, "06_formgrader_missions")
    assert listed == expected, f"formgrader lists {listed}, expected {expected}"
