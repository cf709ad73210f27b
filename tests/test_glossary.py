"""One concept, one glossary entry, one Korean spelling, everywhere.

The glossary (course/README.md) is merged from course/glossary_parts/ by
tools/merge_glossary.py, which keeps the first row of an English term and drops
later rows with the same spelling. A concept entered under a second English name
("ReLU activation" beside "ReLU") or a Korean term spelled two ways across notebooks
("완전 연결" and "완전연결") slips through that merge; these tests catch both.
"""

import re
from pathlib import Path

import nbformat

from tools import merge_glossary

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = (
    sorted(REPO.glob("course/*.ipynb"))
    + sorted(REPO.glob("source_notebooks/*/*.ipynb"))
    + sorted(REPO.glob("release/*/*.ipynb"))
)

# Spellings the course has used and retired: variant -> the one spelling to use.
RETIRED_SPELLINGS = {
    "에포크": "에폭",
    "He 초기화": "He 초깃값",
    "Xavier 초기화": "Xavier 초깃값",
    "글로럿/세이비어 초기화": "Xavier 초깃값",
    "완전 연결": "완전연결",
}
GENERIC_WORDS = {"activation"}  # "ReLU activation" is the entry "ReLU" again
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def english_names(term: str) -> set[str]:
    """The names a glossary row answers to: 'Glorot (Xavier) initialisation' is also 'Xavier initialisation'."""
    term = term.lower()
    names = {re.sub(r"\s*\([^)]*\)", "", term)}
    match = re.match(r"(.*?)\s*\(([^)]*)\)\s*(.*)", term)
    if match:
        names.add(f"{match.group(2)} {match.group(3)}".strip())
    out = set()
    for name in names:
        words = [w for w in name.split() if w not in GENERIC_WORDS] or name.split()
        out.add(" ".join(words))
    return out


def korean_key(term: str) -> str:
    """The Korean term without its parenthetical alternative and without spaces."""
    return re.sub(r"\s+", "", re.sub(r"\([^)]*\)", "", term))


def notebook_texts():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            yield f"{path.relative_to(REPO)} cell {i}", cell.source


def test_english_names_sees_through_aliases_and_generic_words():
    assert english_names("Glorot (Xavier) initialisation") == {
        "glorot initialisation",
        "xavier initialisation",
    }
    assert english_names("ReLU activation") == {"relu"}
    assert "fully connected layer" in english_names("fully connected (dense) layer")
    assert english_names("activation function") == {"function"}
    assert english_names("activation (value)") != english_names("activation function")


def test_every_concept_has_one_entry():
    rows = merge_glossary.rows()
    by_name, by_korean = {}, {}
    clashes = []
    for english, korean, _ in rows:
        for name in english_names(english):
            if name in by_name:
                clashes.append(f"'{english}' and '{by_name[name]}' are one concept ({name})")
            by_name[name] = english
        key = korean_key(korean)
        if key in by_korean:
            clashes.append(f"'{english}' and '{by_korean[key]}' share the Korean term {korean}")
        by_korean[key] = english
    assert not clashes, "merge these glossary rows in course/glossary_parts/:\n  " + "\n  ".join(
        clashes
    )


def test_no_retired_spelling_anywhere():
    hits = []
    glossary_files = [
        REPO / "course" / "README.md",
        *(REPO / "course" / "glossary_parts").glob("*.md"),
    ]
    sources = [(str(p.relative_to(REPO)), p.read_text(encoding="utf-8")) for p in glossary_files]
    for where, text in [*sources, *notebook_texts()]:
        for variant, spelling in RETIRED_SPELLINGS.items():
            if variant in text:
                hits.append(f"{where}: '{variant}' (write '{spelling}')")
    assert not hits, "\n".join(hits)


def test_glossary_terms_are_spaced_the_same_in_every_notebook():
    """'완전연결 계층' in the glossary: '완전 연결 계층' in a notebook is a second spelling."""
    problems = []
    texts = list(notebook_texts())
    for _, korean, _ in merge_glossary.rows():
        for term in re.split(r"[()/,]", korean):
            term = term.strip()
            if len(HANGUL.findall(term)) < 2:
                continue
            letters = [ch for ch in term if not ch.isspace()]
            pattern = re.compile(r"\s*".join(map(re.escape, letters)))
            for where, text in texts:
                for match in pattern.finditer(text):
                    if match.group(0) != term and "\n" not in match.group(0):
                        problems.append(f"{where}: '{match.group(0)}' (glossary: '{term}')")
    assert not problems, "\n".join(sorted(set(problems)))


def test_readme_glossary_is_the_merge_of_the_parts():
    readme = (REPO / "course" / "README.md").read_text(encoding="utf-8")
    assert merge_glossary.table() in readme, "run `python -m tools.merge_glossary`"
