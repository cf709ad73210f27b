"""The class roster: one CSV row per person, ``student_id,name,email[,role]``.

Why a file: Unix accounts, the gradebook's students and the LMS export (``make export``)
must all list the same people under the same ids. The id becomes a Unix login, an
nbgrader student id and a folder name, so it must be valid as all three (see
:data:`LOGIN`). ``role`` is ``student`` (the default when the column is absent or empty)
or ``instructor``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

# A Unix login (useradd's default rule, lower case) that is also a valid nbgrader student
# id (autograder.grade.STUDENT_ID): starts with a letter, at most 32 characters.
LOGIN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
ROLES = ("student", "instructor")


class RosterError(ValueError):
    """The roster cannot be used; the message names the line and the fix."""


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str
    role: str = "student"

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def last_name(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else ""


def read_roster(path: Path) -> list[Person]:
    """The people of ``path``, in file order; raise RosterError on the first bad line."""
    if not Path(path).is_file():
        raise RosterError(
            f"no roster file {path} (CSV with a header: student_id,name,email[,role])"
        )
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    people, seen = [], set()
    for number, row in enumerate(rows, start=2):
        ident = (row.get("student_id") or "").strip()
        role = (row.get("role") or "student").strip() or "student"
        if not LOGIN.fullmatch(ident):
            raise RosterError(
                f"{path}:{number}: student_id {ident!r} is not a valid login "
                "(lower-case letter first, then letters, digits, '_' or '-', "
                "at most 32 characters)"
            )
        if ident in seen:
            raise RosterError(f"{path}:{number}: student_id {ident!r} appears twice")
        if role not in ROLES:
            raise RosterError(f"{path}:{number}: role {role!r} is not one of {', '.join(ROLES)}")
        name = (row.get("name") or "").strip()
        if any(ch in name for ch in ":\n\r,"):
            raise RosterError(f"{path}:{number}: the name may not contain ':', ',' or a line break")
        seen.add(ident)
        people.append(Person(ident, name, (row.get("email") or "").strip(), role))
    if not people:
        raise RosterError(f"{path} lists nobody")
    return people
