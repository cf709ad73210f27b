"""`make bench`: measure the course — run times, grading throughput, accuracy, set-up cost.

Writes ``benchmarks/results.md`` (a table a person reads) and ``benchmarks/results.json``
(the same figures for tools); every row names the machine it ran on.

Sections (each can be skipped, see ``--help``):

1. notebooks: every notebook in ``course/`` and ``source_notebooks/`` executed as the tests
   execute them (a fresh kernel, cwd = the notebook's folder), seconds each and in total.
   While they run, ``$COURSE_METRICS_FILE`` is set, so the figures the notebooks record
   with ``helpers.metrics.record`` come from these very runs;
2. grading: ``autograder.grade`` on a scratch copy of the course: one reference
   submission per mission graded one at a time (sequential), then a batch of N reference
   submissions under N student ids, the missions taking turns, graded ``--jobs`` at a
   time (parallel); seconds per submission per mission and throughput side by side;
3. accuracy: the recorded figures next to their reference figures;
4. from scratch vs framework: ``benchmarks.numpy_vs_keras``;
5. set-up: ``tools/setup.sh`` on a fresh clone (cold) and again (warm).

``--tiny`` runs every section on a toy setting (one small generated notebook, one blank
submission, 1,000 rows, warm set-up only): the test suite uses it to check that the
command works, not to measure anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.layout import REPO
from helpers import metrics
from tools.execute_notebooks import run_notebook

ROOT = REPO  # autograder.layout knows where the repository is

# Reference figures: (metric recorded by a notebook, reference value, where it comes from).
REFERENCES = [
    ("lecture01_dense64_val_accuracy", 0.973, "seed 000: Dense(64), 20 epochs, validation"),
    ("lecture01_dense512_test_accuracy", 0.981, "seed 004: Dense(512), RMSprop, 5 epochs, test"),
    ("lecture02_numpy_net_test_accuracy", 0.95, "course target: NumPy two-layer net, test"),
    ("lecture03_sgd_test_accuracy", 0.897, "seed 001: plain SGD, 10 epochs, test"),
    ("lecture03_momentum_test_accuracy", 0.972, "seed 001: SGD with momentum, 10 epochs, test"),
    ("lecture06_cnn_test_accuracy", 0.99, "Keras example 'simple MNIST convnet', test"),
    ("lecture07_sigmoid_sgd_val_accuracy", 0.884, "seed 003: sigmoid DNN + SGD, validation"),
    ("lecture07_relu_adam_val_accuracy", 0.889, "seed 003: ReLU + Adam, validation"),
    ("lecture07_glorot_4x512_val_accuracy", 0.892, "seed 003: 4x512 glorot_normal, validation"),
    ("lecture07_dropout_val_accuracy", 0.896, "seed 003: 4x512 + Dropout(0.3), validation"),
    (
        "lecture07_cnn_test_accuracy",
        0.916,
        "Fashion-MNIST benchmark: 2 Conv+pooling (TensorFlow doc), test",
    ),
    ("mission1_test_accuracy", 0.972, "seed 001: mission 1 base model, test"),
    ("mission2_test_accuracy", 0.96, "course target: mission 2, test"),
    ("mission3_test_accuracy", 0.965, "course target: mission 3, test"),
    ("mission4_train_accuracy", 0.99, "seed 001: the 99% callback, training accuracy"),
    ("mission5_test_accuracy", 0.965, "course target: mission 5, NumPy two-layer net, test"),
]


# --------------------------------------------------------------------------- machine
def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    gpu = "none"
    if shutil.which("nvidia-smi"):
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        gpu = out.stdout.strip().replace("\n", ", ") or "none"
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "gpu": gpu,
        "python": platform.python_version(),
    }


def machine_label(m: dict[str, str]) -> str:
    return f"{m['cores']}-core {m['cpu']}" + (f", GPU {m['gpu']}" if m["gpu"] != "none" else "")


# --------------------------------------------------------------------------- sections
def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def time_notebook(path: Path, metrics_file: Path, timeout: int = 900) -> float:
    env_before = {k: os.environ.get(k) for k in (metrics.ENV_VAR, "COURSE_METRICS_SOURCE")}
    os.environ[metrics.ENV_VAR] = str(metrics_file)
    os.environ["COURSE_METRICS_SOURCE"] = path.stem
    try:
        return run_notebook(path, timeout)[1]
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def notebook_section(notebooks: list[Path], metrics_file: Path) -> list[dict]:
    rows = []
    for i, path in enumerate(notebooks, 1):
        log(
            f"notebook {i}/{len(notebooks)}: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
        )
        seconds = time_notebook(path, metrics_file)
        rows.append(
            {
                "notebook": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name),
                "seconds": round(seconds, 1),
                "under_5_min": seconds < 300,
            }
        )
        log(f"  {seconds:.0f} s")
    return rows


def _course_copy(dest: Path) -> Path:
    """A scratch copy of what grading needs, so the repository's autograder/ is never written."""
    for name in ("source_notebooks", "release"):
        shutil.copytree(ROOT / name, dest / name)
    (dest / "autograder").mkdir()
    for f in (ROOT / "autograder").glob("*.py"):
        shutil.copy2(f, dest / "autograder" / f.name)
    shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    return dest


def _reference_notebook(mission: str, blank: bool) -> Path:
    return ROOT / ("release" if blank else "source_notebooks") / mission / f"{mission}.ipynb"


def _grade(subs: Path, course: Path, jobs: int, timeout: float):
    from autograder.grade import Log, Settings, grade_folder

    grade_log = Log(course / "autograder" / "grade.log")
    start = time.perf_counter()
    try:
        outcomes = grade_folder(
            subs, course, log=grade_log, settings=Settings(timeout=timeout, jobs=jobs)
        )
    finally:
        grade_log.close()
    return outcomes, time.perf_counter() - start


def _submit(subs: Path, student: str, mission: str, blank: bool) -> None:
    d = subs / student / mission
    d.mkdir(parents=True)
    shutil.copy2(_reference_notebook(mission, blank), d / f"{mission}.ipynb")


def grading_section(
    missions: list[str], batch: int, blank: bool, timeout: float, jobs: int
) -> tuple[list[dict], dict]:
    """One submission per mission graded alone and in sequence (``--jobs 1``), then a batch
    of ``batch`` submissions under as many student ids, the missions taking turns, graded
    ``jobs`` at a time. Returns per-mission rows and the throughput comparison."""
    rows: list[dict] = []
    kind = "blank" if blank else "reference"
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        tmp = Path(tmp)
        # --- one submission per mission, sequential
        course = _course_copy(tmp / "single")
        subs = tmp / "subs-single"
        for mission in missions:
            _submit(subs, "student00", mission, blank)
        log(f"grading one {kind} submission per mission, one at a time")
        outcomes, seq_wall = _grade(subs, course, 1, timeout)
        for o in outcomes:
            rows.append(
                {
                    "mission": o.mission,
                    "batch": 1,
                    "jobs": 1,
                    "submissions": 1,
                    "seconds_per_submission": round(o.seconds, 1),
                    "scores": f"{o.score:g}/{o.max_score:g}" if o.ok else "FAILED",
                    "phases": phase_row(o.phases, o.seconds),
                }
            )
            log(
                f"  {o.mission}: {o.seconds:.0f} s, {rows[-1]['scores']}, phases {rows[-1]['phases']}"
            )
        # --- a batch under `batch` student ids, `jobs` at a time
        course = _course_copy(tmp / "batch")
        subs = tmp / "subs-batch"
        for k in range(batch):
            _submit(subs, f"student{k:02d}", missions[k % len(missions)], blank)
        log(f"grading a batch of {batch} {kind} submissions, {jobs} at a time")
        outcomes, par_wall = _grade(subs, course, jobs, timeout)
        for mission in missions:
            mine = [o for o in outcomes if o.mission == mission]
            if not mine:
                continue
            scores = sorted({f"{o.score:g}/{o.max_score:g}" if o.ok else "FAILED" for o in mine})
            rows.append(
                {
                    "mission": mission,
                    "batch": batch,
                    "jobs": jobs,
                    "submissions": len(mine),
                    "seconds_per_submission": round(sum(o.seconds for o in mine) / len(mine), 1),
                    "scores": ", ".join(scores),
                }
            )
            log(f"  {mission}: {rows[-1]['seconds_per_submission']} s each, {rows[-1]['scores']}")
    n_seq = len(missions)
    throughput = {
        "sequential": {
            "submissions": n_seq,
            "jobs": 1,
            "wall_seconds": round(seq_wall, 1),
            "submissions_per_minute": round(60 * n_seq / seq_wall, 2),
        },
        "parallel": {
            "submissions": batch,
            "jobs": jobs,
            "wall_seconds": round(par_wall, 1),
            "submissions_per_minute": round(60 * batch / par_wall, 2),
        },
    }
    throughput["parallel_over_sequential"] = round(
        throughput["parallel"]["submissions_per_minute"]
        / throughput["sequential"]["submissions_per_minute"],
        2,
    )
    log(
        f"  throughput: {throughput['sequential']['submissions_per_minute']} per minute "
        f"sequential, {throughput['parallel']['submissions_per_minute']} with {jobs} jobs"
    )
    return rows, throughput


PHASES = [
    "intake",
    "nbgrader_startup",
    "kernel_start",
    "notebook_cells",
    "hidden_tests",
    "kernel_stop",
    "autograde_finish",
    "flags_and_gradebook",
    "feedback",
    "job_exit",
]
EXECUTION = ("notebook_cells", "hidden_tests")  # the notebook's own execution
OVERHEAD_TARGET_S = 3.0  # what grading may add to running the notebook (issue 16)


def phase_row(phases: dict[str, float], seconds: float) -> dict[str, float]:
    """One submission's phases (seconds), the rest of its time (``other``: starting
    processes, waiting for a free core), its total from intake to feedback page, and the
    overhead: everything but executing the notebook's cells (its own and hidden tests)."""
    row = {name: round(phases.get(name, 0.0), 2) for name in PHASES}
    measured = sum(phases.get(name, 0.0) for name in (*PHASES, "autograde"))
    total = phases.get("intake", 0.0) + seconds
    row["other"] = round(max(0.0, total - measured), 2)
    row["total"] = round(total, 1)
    row["overhead"] = round(total - sum(phases.get(n, 0.0) for n in EXECUTION), 1)
    if "kernel_max_rss_mib" in phases:
        row["kernel_peak_mib"] = round(phases["kernel_max_rss_mib"])
    return row


def phase_table(grading: list[dict]) -> list[dict]:
    return [
        {"mission": r["mission"], **r["phases"]}
        for r in grading
        if r["batch"] == 1 and r.get("phases")
    ]


def accuracy_section(recorded: dict[str, float]) -> list[dict]:
    rows = []
    for name, ref, source in REFERENCES:
        value = recorded.get(name)
        rows.append(
            {
                "figure": name,
                "measured": None if value is None else round(value, 4),
                "reference": ref,
                "reference_source": source,
                "meets_reference": None if value is None else value >= ref,
            }
        )
    return rows


def setup_section(tiny: bool) -> list[dict]:
    rows = []
    if tiny:
        start = time.perf_counter()
        subprocess.run(["bash", "tools/setup.sh"], cwd=ROOT, check=True, capture_output=True)
        return [{"setup": "warm (this checkout)", "seconds": round(time.perf_counter() - start, 1)}]
    with tempfile.TemporaryDirectory(prefix="bench-clone-") as tmp:
        clone = Path(tmp) / "course"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        for label in ("cold (fresh clone)", "warm (repeated)"):
            log(f"set-up, {label}")
            start = time.perf_counter()
            subprocess.run(["bash", "tools/setup.sh"], cwd=clone, check=True, capture_output=True)
            rows.append({"setup": label, "seconds": round(time.perf_counter() - start, 1)})
            log(f"  {rows[-1]['seconds']} s")
    return rows


# --------------------------------------------------------------------------- report
def _table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "_not measured in this run_\n"
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        out.append(
            "| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in columns) + " |"
        )
    return "\n".join(out) + "\n"


def targets(results: dict) -> list[dict]:
    """The issue's targets, each with the figure this run measured and whether it holds."""
    rows = []

    def add(target: str, measured, ok) -> None:
        rows.append({"target": target, "measured": measured, "met": ok})

    if results.get("bench_seconds") is not None:
        add(
            "whole `make bench` under 30 min",
            f"{results['bench_seconds'] / 60:.1f} min",
            results["bench_seconds"] < 1800,
        )
    nbs = results["notebooks"]
    if nbs:
        slowest = max(nbs, key=lambda r: r["seconds"])
        add(
            "every notebook under 5 min",
            f"slowest {slowest['seconds']:.0f} s ({Path(slowest['notebook']).name})",
            all(r["seconds"] < 300 for r in nbs),
        )
        course = sum(r["seconds"] for r in nbs if r["notebook"].startswith("course/"))
        add("lecture notebooks together under 25 min", f"{course / 60:.1f} min", course < 1500)
    single = [r for r in results["grading"] if r["batch"] == 1]
    if single:
        worst = max(single, key=lambda r: r["seconds_per_submission"])
        add(
            "grading under 60 s per submission, every mission",
            f"slowest {worst['seconds_per_submission']:.0f} s ({worst['mission']})",
            all(r["seconds_per_submission"] < 60 for r in single),
        )
        timed = [r for r in single if r.get("phases")]
        if timed:
            most = max(timed, key=lambda r: r["phases"]["overhead"])
            add(
                f"grading overhead (beyond the notebook's cells) at most {OVERHEAD_TARGET_S:g} s, "
                "every mission",
                f"largest {most['phases']['overhead']:g} s ({most['mission']})",
                all(r["phases"]["overhead"] <= OVERHEAD_TARGET_S for r in timed),
            )
    acc = {r["figure"]: r["measured"] for r in results["accuracy"]}
    for name, label, floor in (
        ("lecture06_cnn_test_accuracy", "MNIST CNN test accuracy", 0.99),
        ("lecture07_cnn_test_accuracy", "Fashion-MNIST CNN test accuracy", 0.91),
    ):
        if acc.get(name) is not None:
            add(f"{label} at least {floor}", acc[name], acc[name] >= floor)
    nk = results.get("numpy_vs_keras") or {}
    if "fast_over_keras" in nk:
        add(
            "NumPy epoch no slower than Keras' (fast / Keras <= 1)",
            nk["fast_over_keras"],
            nk["fast_over_keras"] <= 1,
        )
    return rows


OTHER_SECTIONS = ("notebooks", "accuracy", "numpy_vs_keras", "setup", "bench_seconds")


def keep_other_sections(grading: dict, previous: Path) -> dict:
    """``--only grading``: the new grading section beside the other sections of the last
    full run (``previous``, its results.json), each part labelled with its date and machine,
    so re-measuring grading does not erase what took 20 minutes to measure."""
    try:
        full = json.loads(previous.read_text())
    except (OSError, ValueError):
        return grading  # no full run yet: the report shows what was measured
    if full.get("tiny"):
        return grading
    merged = dict(grading)
    for key in OTHER_SECTIONS:
        merged[key] = full.get(key, merged.get(key))
    earlier = full.get("full_run") or {"date": full.get("date"), "machine": full.get("machine")}
    merged["full_run"] = earlier
    return merged


def write_report(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    results["targets"] = targets(results)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    nb_total = sum(r["seconds"] for r in results["notebooks"])
    course_total = sum(
        r["seconds"] for r in results["notebooks"] if r["notebook"].startswith("course/")
    )
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {results['date']}. Machine for every row: **{machine_label(m)}**, "
        f"{m['memory']} memory, Python {m['python']} (host `{m['host']}`)."
        + (" **Tiny setting: these figures measure nothing.**" if results["tiny"] else "")
        + (
            f" Section 2 was re-measured then (`python -m benchmarks.run --only grading`); sections 1 and "
            f"3-5, and the whole run's time, come from the full run of "
            f"{results['full_run']['date']} on **{machine_label(results['full_run']['machine'])}**."
            if results.get("full_run")
            else ""
        ),
        "",
        "## Targets",
        "",
        _table(results["targets"], ["target", "measured", "met"]),
        "## 1. Notebook run time",
        "",
        _table(results["notebooks"], ["notebook", "seconds", "under_5_min"]),
        f"Total: {nb_total:.0f} s; lecture notebooks alone: {course_total:.0f} s "
        f"(target: each under 300 s, the course under 1,500 s).",
        "",
        "## 2. Grading throughput (`make grade`)",
        "",
        _table(
            results["grading"],
            ["mission", "batch", "jobs", "submissions", "seconds_per_submission", "scores"],
        ),
        "Seconds per submission: from taking the submission in to its feedback page, as the "
        "log reports it; in the batch, submissions share the machine with the other jobs. "
        "The batch gives the missions turns, student00 mission 1, student01 mission 2, ... "
        "Target: under 60 s per submission per mission.",
        "",
        "Where one submission's seconds go (graded alone, one job; seconds per phase; "
        "overhead = everything but executing the notebook's cells and hidden tests):",
        "",
        _table(
            phase_table(results["grading"]),
            ["mission", *PHASES, "other", "total", "overhead", "kernel_peak_mib"],
        ),
        _table(
            [
                {"mode": k, **v}
                for k, v in results["grading_throughput"].items()
                if isinstance(v, dict)
            ],
            ["mode", "submissions", "jobs", "wall_seconds", "submissions_per_minute"],
        ),
        f"Parallel over sequential throughput: "
        f"{results['grading_throughput'].get('parallel_over_sequential', '-')}x "
        "(the faster is `make grade`'s default: one job per core).",
        "",
        "## 3. Accuracy against the references",
        "",
        _table(
            results["accuracy"],
            ["figure", "measured", "reference", "meets_reference", "reference_source"],
        ),
        "## 4. From scratch against the framework (one epoch, same net, same batches)",
        "",
        _table(
            [results["numpy_vs_keras"]] if results["numpy_vs_keras"] else [],
            [
                "rows",
                "numpy_naive_s",
                "numpy_fast_s",
                "keras_s",
                "keras_first_epoch_s",
                "naive_over_keras",
                "fast_over_keras",
            ],
        ),
        "A ratio below 1 means NumPy is faster than Keras.",
        "",
        "## 5. Set-up cost",
        "",
        _table(results["setup"], ["setup", "seconds"]),
    ]
    (out_dir / "results.md").write_text("\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--tiny", action="store_true", help="toy setting, to check the command works"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks", help="where results.md/json go"
    )
    parser.add_argument(
        "--batch", type=int, default=20, help="submissions (and student ids) in the grading batch"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="parallel jobs for the batch (default: make grade's default)",
    )
    parser.add_argument(
        "--only",
        choices=["grading"],
        default=None,
        help="run one section alone (grading: phases and throughput, minutes "
        "instead of the whole bench)",
    )
    parser.add_argument(
        "--missions", nargs="*", default=None, help="grade only these missions (default: all)"
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["notebooks", "grading", "numpy", "setup"],
        help="sections to leave out",
    )
    args = parser.parse_args(argv)
    if args.only == "grading":
        args.skip = ["notebooks", "numpy", "setup"]
    if args.jobs is None:
        from autograder.grade import DEFAULT_JOBS

        args.jobs = DEFAULT_JOBS

    results = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "tiny": args.tiny,
        "notebooks": [],
        "grading": [],
        "grading_throughput": {},
        "accuracy": [],
        "numpy_vs_keras": {},
        "setup": [],
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        metrics_file = Path(tmp) / "metrics.jsonl"
        if "notebooks" not in args.skip:
            if args.tiny:
                nb = nbformat.v4.new_notebook(
                    cells=[
                        nbformat.v4.new_code_cell(
                            "from helpers.metrics import record\nrecord('lecture06_cnn_test_accuracy', 0.5)"
                        )
                    ]
                )
                path = Path(tmp) / "tiny.ipynb"
                nbformat.write(nb, path)
                notebooks = [path]
            else:
                notebooks = sorted((ROOT / "course").glob("*.ipynb")) + sorted(
                    (ROOT / "source_notebooks").glob("*/*.ipynb")
                )
            results["notebooks"] = notebook_section(notebooks, metrics_file)
        results["accuracy"] = accuracy_section(metrics.read(metrics_file))
        if "grading" not in args.skip:
            from autograder import MISSIONS

            missions = list(MISSIONS[:1]) if args.tiny else list(args.missions or MISSIONS)
            results["grading"], results["grading_throughput"] = grading_section(
                missions,
                2 if args.tiny else args.batch,
                blank=args.tiny,
                timeout=900,
                jobs=args.jobs,
            )
        if "numpy" not in args.skip:
            from benchmarks.numpy_vs_keras import run as numpy_vs_keras

            log("NumPy against Keras, one epoch")
            results["numpy_vs_keras"] = {
                k: round(v, 3) if isinstance(v, float) else v
                for k, v in numpy_vs_keras(1000 if args.tiny else 60000).items()
            }
        if "setup" not in args.skip:
            results["setup"] = setup_section(args.tiny)
    seconds = round(time.perf_counter() - started, 1)
    results["bench_seconds"] = seconds
    if args.only == "grading" and not args.tiny:
        results = keep_other_sections(results, args.out / "results.json")
    write_report(results, args.out)
    log(f"wrote {args.out / 'results.md'} and results.json in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
