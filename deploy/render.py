"""Render ``deploy/grading-job.yaml`` for a class: one Kubernetes pod per shard.

Usage::

    python -m deploy.render --shards 10 --image registry.example/dl-course:2026 \
        [--source volume|archive] [--jobs 16] [--out job.yaml]
    kubectl apply -f job.yaml
    # when it is done, with the results volume mounted:
    python -m autograder.shards merge /results/shard-*-of-10 --submissions DIR --shards 10

Each pod copies the course out of the image, takes the submissions from a read-only
volume (``volume``: ``<student>/<mission>/`` folders at its top; ``archive``:
``submissions.tar.gz`` there, unpacked into the pod), grades its shard with
``--no-sandbox`` (the pod is the sandbox: no network, no service-account token, no
privileges) and writes its bundle to the results volume.

Memory: one grading job (nbgrader's process and the kernel it starts) needs
:data:`JOB_MEMORY_MIB`, from the kernel peak the grading job measured (see
benchmarks/results.md, "Where one submission's seconds go") plus the job's own process;
the pod asks for that times ``--jobs``.
"""

from __future__ import annotations

import argparse
import re
import string
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("grading-job.yaml")
# The most memory a graded kernel (with its sandbox launcher) was measured to hold: 1,741 MiB
# (mission 3's reference answer, tools/kernel_memory.py on a loaded machine; make bench's
# kernel_peak_mib of 2026-12-04 gives 1,070-1,370 MiB for the five missions), plus the job's
# own process (about 300 MiB, most of it shared with the job server it was forked from) and
# a fifth for answers that use more than the reference: per grading job, MiB.
KERNEL_PEAK_MIB = 1741
JOB_MEMORY_MIB = 2560
# (command that puts the submissions in place, the folder graded)
SOURCES = {
    "volume": (": graded where they lie, read-only; intake copies only notebooks", "/input"),
    "archive": (
        "mkdir -p /work/submissions && tar -xzf /input/submissions.tar.gz "
        "-C /work/submissions --no-same-owner",
        "/work/submissions",
    ),
}
NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?")


def render(
    shards: int,
    image: str,
    *,
    name: str = "grade-class",
    jobs: int = 16,
    parallelism: int | None = None,
    source: str = "volume",
    timeout: int = 900,
    submissions_claim: str = "class-submissions",
    results_claim: str = "grading-results",
    disk_gib: int = 20,
) -> str:
    """The Job and its NetworkPolicy as YAML text, for ``shards`` pods of ``jobs`` each."""
    if shards < 1 or jobs < 1:
        raise ValueError("--shards and --jobs must be at least 1")
    if not NAME.fullmatch(name):
        raise ValueError(f"--name {name!r}: lower-case letters, digits and '-' (Kubernetes)")
    if source not in SOURCES:
        raise ValueError(f"--source {source!r}: one of {', '.join(SOURCES)}")
    fields = {
        "name": name,
        "shards": shards,
        "parallelism": parallelism or shards,
        "image": image,
        "jobs": jobs,
        "cpu": jobs,
        "memory": f"{JOB_MEMORY_MIB * jobs}Mi",
        "timeout": timeout,
        "disk": f"{disk_gib}Gi",
        "fetch_submissions": SOURCES[source][0],
        "submissions_dir": SOURCES[source][1],
        "submissions_claim": submissions_claim,
        "results_claim": results_claim,
    }
    return string.Template(TEMPLATE.read_text()).substitute(fields)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.render", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--shards", type=int, required=True, help="pods, one shard each")
    parser.add_argument(
        "--image",
        required=True,
        help="the course image (this repository, its environment and data, at /course)",
    )
    parser.add_argument("--name", default="grade-class")
    parser.add_argument("--jobs", type=int, default=16, help="grading jobs per pod (its cores)")
    parser.add_argument(
        "--parallelism", type=int, default=None, help="pods at a time (default: all)"
    )
    parser.add_argument("--source", choices=sorted(SOURCES), default="volume")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per submission")
    parser.add_argument("--submissions-claim", default="class-submissions")
    parser.add_argument("--results-claim", default="grading-results")
    parser.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    try:
        text = render(
            args.shards,
            args.image,
            name=args.name,
            jobs=args.jobs,
            parallelism=args.parallelism,
            source=args.source,
            timeout=args.timeout,
            submissions_claim=args.submissions_claim,
            results_claim=args.results_claim,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
