"""Record a notebook's headline figures for the benchmark report.

``record("cnn_test_accuracy", acc)`` appends one JSON line to the file named by
``$COURSE_METRICS_FILE`` when the benchmark command sets it, and does nothing
otherwise. The figure is then read from the very run that executed the notebook,
rather than scraped from printed text or trained a second time.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

ENV_VAR = "COURSE_METRICS_FILE"


def record(name: str, value: float, source: str | None = None) -> float:
    """Append ``{name, value, source, time}`` to ``$COURSE_METRICS_FILE`` if set; return ``value``."""
    target = os.environ.get(ENV_VAR)
    if target:
        row = {
            "name": name,
            "value": float(value),
            "source": source or os.environ.get("COURSE_METRICS_SOURCE", ""),
            "time": time.time(),
        }
        with Path(target).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
    return value


def read(path: str | os.PathLike) -> dict[str, float]:
    """``{name: value}`` from a metrics file; the last value of a name wins."""
    p = Path(path)
    if not p.exists():
        return {}
    out = {}
    for line in p.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out[row["name"]] = row["value"]
    return out
