"""Merge course/glossary_parts/*.md into one sorted, de-duplicated glossary table.

Each part is a markdown table ``| English | Korean | Meaning |`` written beside the
notebooks it covers; ``course/README.md`` carries the merged table between the
markers ``<!-- glossary:start -->`` and ``<!-- glossary:end -->``. Run
``python -m tools.merge_glossary`` after editing a part.
"""

from __future__ import annotations

import re

from autograder.layout import REPO as ROOT

START, END = "<!-- glossary:start -->", "<!-- glossary:end -->"


def rows() -> list[tuple[str, str, str]]:
    seen: dict[str, tuple[str, str, str]] = {}
    for part in sorted((ROOT / "course" / "glossary_parts").glob("*.md")):
        for line in part.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if (
                len(cells) != 3
                or set(cells[0]) <= set("- ")
                or cells[0].lower().startswith("english")
            ):
                continue
            seen.setdefault(cells[0].lower(), tuple(cells))  # first definition wins
    return sorted(seen.values(), key=lambda r: r[0].lower())


def table() -> str:
    lines = ["| English | Korean (한국어) | Meaning |", "| --- | --- | --- |"]
    lines += [f"| {e} | {k} | {m} |" for e, k, m in rows()]
    return "\n".join(lines)


def main() -> None:
    readme = ROOT / "course" / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = re.sub(
        re.escape(START) + r".*?" + re.escape(END), f"{START}\n{table()}\n{END}", text, flags=re.S
    )
    readme.write_text(new, encoding="utf-8")
    print(f"{readme}: {len(rows())} glossary rows")


if __name__ == "__main__":
    main()
