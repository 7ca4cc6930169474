"""A record being edited in a window, without Qt: what the server has now (`latest`, the contract
model shown), what each field held when the person began editing it (`base`), and so what they
changed (`edits`).

A save sends only the edits, with the newest version and what each edited field held (`expected`):
the server refuses a field someone else changed meanwhile (409 field_changed, naming it) and merges
edits of other fields. Live refreshes keep the person's edits and take everyone else's. Those edits
are compared with the record in the wire's shape (`wire`: what a PATCH body names), which the
document window hands in beside the model (`load`).

A document window (widgets/document_window.py) uses the other half: `snapshot` the form's values as
shown, `changes`/`has_changes` against it (a part compared by a flag, such as a line grid, is
`touch`ed), and `take` each answer, which refuses one older than what is shown.

The form's values, the edits and the bodies are dicts (`Values`): they are request bodies, not
records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

Values = dict[str, Any]  # a form's values, a request body, or a record in the wire's shape they are compared with


class Versioned(Protocol):
    """A record the server keeps versions of (every contract model a document window shows)."""

    @property
    def id(self) -> int: ...

    @property
    def version(self) -> int: ...


class EditBuffer:
    def __init__(self, changes: Callable[[Values], Values] | None = None) -> None:
        self._changes = changes  # the form's values that differ from a record, in the PATCH's shape
        self.latest: Versioned | None = None  # the record shown
        self.wire: Values | None = None  # field by field: the record edits are compared with, as the wire has it
        self.base: Values = {}
        self.clean: Values = {}  # the form's values as last shown (`snapshot`)
        self.touched: set[str] = set()  # parts compared by a flag rather than by value (a line grid)

    # --- a form compared with what it showed -------------------------------------------------------

    def snapshot(self, values: Values) -> None:
        """The form shows a record now (or a new one's defaults): nothing is edited."""
        self.clean = dict(values)
        self.touched.clear()

    def touch(self, part: str) -> None:
        """The person changed `part` (e.g. "lines"), which is not compared by value."""
        self.touched.add(part)

    def changes(self, values: Values) -> Values:
        """The form's values that differ from the snapshot, and the touched parts (value None when
        `values` does not hold them: the caller adds what it sends for them)."""
        out = {name: value for name, value in values.items() if value != self.clean.get(name)}
        out.update({part: values.get(part) for part in self.touched if part not in out})
        return out

    def has_changes(self, values: Values) -> bool:
        return bool(self.touched) or any(value != self.clean.get(name) for name, value in values.items())

    # --- answers from the server -----------------------------------------------------------------

    def is_older(self, record: Versioned) -> bool:
        """An answer that left before a newer one was shown (a slow read overtaken by a save)."""
        shown = self.latest
        if shown is None or shown.id != record.id:
            return False
        return record.version < shown.version

    def take(self, record: Versioned) -> bool:
        """Show `record` unless it is older than what is shown; answers whether it was taken."""
        if self.is_older(record):
            return False
        self.latest = record
        return True

    # --- a record edited field by field (lead and ticket windows) ----------------------------------

    def edits(self) -> Values:
        if self._changes is None or self.wire is None:
            return {}
        return self._changes(self.base)

    def has_edits(self) -> bool:
        return bool(self.edits())

    def load(self, record: Versioned, wire: Values, *, keep_edits: bool) -> Values | None:
        """Take the server's record (`wire`: it in the wire's shape); answers what the form should
        show (theirs, with my edits over it), or None for an answer older than what is shown already."""
        if self.latest is not None and record.version < self.latest.version:
            return None
        mine = self.edits() if keep_edits else {}
        self.base = {**wire, **{name: self.base.get(name) for name in mine}}
        self.latest, self.wire = record, wire
        return {**wire, **mine}

    def body(self) -> Values:
        """The PATCH: my edits, the newest version, and what each edited field held when I began."""
        assert self.wire is not None
        edits = self.edits()
        return {"version": self.wire["version"], **edits, "expected": {name: self.base.get(name) for name in edits}}

    def settle(self, newest: Values, conflicted: Iterable[str], keep_mine: Iterable[str]) -> Values:
        """After a field_changed refusal (`newest`: the record now, in the wire's shape): a
        conflicting field keeps my value (now saved over theirs on purpose) or takes theirs (my edit
        dropped). Answers what the form should show; the window then `take`s the newest record."""
        conflicted, keep = set(conflicted), set(keep_mine)
        mine = {name: value for name, value in self.edits().items() if name not in conflicted or name in keep}
        self.base = {**newest, **{name: self.base.get(name) for name in mine if name not in conflicted}}
        self.wire = newest
        return {**newest, **mine}
