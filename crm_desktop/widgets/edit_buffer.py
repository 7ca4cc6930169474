"""A record being edited in a window, without Qt: what the server has now (`latest`), what each field
held when the person began editing it (`base`), and so what they changed (`edits`).

A save sends only the edits, with the newest version and what each edited field held (`expected`):
the server refuses a field someone else changed meanwhile (409 field_changed, naming it) and merges
edits of other fields. Live refreshes keep the person's edits and take everyone else's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Row = dict[str, Any]


class EditBuffer:
    def __init__(self, changes: Callable[[Row], dict[str, Any]]) -> None:
        self._changes = changes  # the form's values that differ from a record, in the PATCH's shape
        self.latest: Row | None = None
        self.base: Row = {}

    def edits(self) -> dict[str, Any]:
        return self._changes(self.base) if self.latest is not None else {}

    def has_edits(self) -> bool:
        return bool(self.edits())

    def load(self, record: Row, *, keep_edits: bool) -> Row | None:
        """Take the server's record; answers what the form should show (theirs, with my edits over it),
        or None for an answer older than what is shown already."""
        if self.latest is not None and record.get("version", 0) < self.latest.get("version", 0):
            return None
        mine = self.edits() if keep_edits else {}
        self.base = {**record, **{name: self.base.get(name) for name in mine}}
        self.latest = record
        return {**record, **mine}

    def body(self) -> Row:
        """The PATCH: my edits, the newest version, and what each edited field held when I began."""
        assert self.latest is not None
        edits = self.edits()
        return {"version": self.latest["version"], **edits, "expected": {name: self.base.get(name) for name in edits}}

    def settle(self, newest: Row, conflicted: Iterable[str], keep_mine: Iterable[str]) -> Row:
        """After a field_changed refusal: a conflicting field keeps my value (now saved over theirs on
        purpose) or takes theirs (my edit dropped). Answers what the form should show."""
        conflicted, keep = set(conflicted), set(keep_mine)
        mine = {name: value for name, value in self.edits().items() if name not in conflicted or name in keep}
        self.base = {**newest, **{name: self.base.get(name) for name in mine if name not in conflicted}}
        self.latest = newest
        return {**newest, **mine}
