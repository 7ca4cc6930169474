"""A record being edited in a window, without Qt: what the server has now (`latest`), what each field
held when the person began editing it (`base`), and so what they changed (`edits`).

A save sends only the edits, with the newest version and what each edited field held (`expected`):
the server refuses a field someone else changed meanwhile (409 field_changed, naming it) and merges
edits of other fields. Live refreshes keep the person's edits and take everyone else's.

A document window (widgets/document_window.py) uses the other half: `snapshot` the form's values as
shown, `changes`/`has_changes` against it (a part compared by a flag, such as a line grid, is
`touch`ed), and `take` each answer, which refuses one older than what is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Row = dict[str, Any]


class EditBuffer:
    def __init__(self, changes: Callable[[Row], dict[str, Any]] | None = None) -> None:
        self._changes = changes  # the form's values that differ from a record, in the PATCH's shape
        self.latest: Row | None = None
        self.base: Row = {}
        self.clean: Row = {}  # the form's values as last shown (`snapshot`)
        self.touched: set[str] = set()  # parts compared by a flag rather than by value (a line grid)

    # --- a form compared with what it showed -------------------------------------------------------

    def snapshot(self, values: Row) -> None:
        """The form shows a record now (or a new one's defaults): nothing is edited."""
        self.clean = dict(values)
        self.touched.clear()

    def touch(self, part: str) -> None:
        """The person changed `part` (e.g. "lines"), which is not compared by value."""
        self.touched.add(part)

    def changes(self, values: Row) -> Row:
        """The form's values that differ from the snapshot, and the touched parts (value None when
        `values` does not hold them: the caller adds what it sends for them)."""
        out = {name: value for name, value in values.items() if value != self.clean.get(name)}
        out.update({part: values.get(part) for part in self.touched if part not in out})
        return out

    def has_changes(self, values: Row) -> bool:
        return bool(self.touched) or any(value != self.clean.get(name) for name, value in values.items())

    # --- answers from the server -----------------------------------------------------------------

    def is_older(self, record: Row) -> bool:
        """An answer that left before a newer one was shown (a slow read overtaken by a save)."""
        shown = self.latest
        if shown is None or shown.get("id") != record.get("id"):
            return False
        return int(record.get("version", 0)) < int(shown.get("version", 0))

    def take(self, record: Row) -> bool:
        """Show `record` unless it is older than what is shown; answers whether it was taken."""
        if self.is_older(record):
            return False
        self.latest = record
        return True

    # --- a record edited field by field (lead and ticket windows) ----------------------------------

    def edits(self) -> dict[str, Any]:
        if self._changes is None or self.latest is None:
            return {}
        return self._changes(self.base)

    def has_edits(self) -> bool:
        return bool(self.edits())

    def load(self, record: Row, *, keep_edits: bool) -> Row | None:
        """Take the server's record; answers what the form should show (theirs, with my edits over it),
        or None for an answer older than what is shown already."""
        if self.latest is not None and int(record.get("version", 0)) < int(self.latest.get("version", 0)):
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
