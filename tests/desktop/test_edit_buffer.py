"""The edits of a record window, without Qt: what is unsaved, what a save sends, which answer is shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_desktop.widgets.edit_buffer import EditBuffer


@dataclass(frozen=True)
class Record:
    """A record as a window holds it (a contract model: attributes, not keys)."""

    id: int
    version: int


def test_a_snapshot_has_no_edits_until_a_value_differs_or_a_part_is_touched() -> None:
    buffer = EditBuffer()
    buffer.snapshot({"title": "Website", "notes": None})
    assert not buffer.has_changes({"title": "Website", "notes": None})
    assert buffer.changes({"title": "Website", "notes": None}) == {}

    assert buffer.has_changes({"title": "Website v2", "notes": None})
    assert buffer.changes({"title": "Website v2", "notes": None}) == {"title": "Website v2"}
    assert not buffer.has_changes({"title": "Website", "notes": None}), "typed back: nothing to save"

    buffer.touch("lines")
    assert buffer.has_changes({"title": "Website", "notes": None})
    assert buffer.changes({"title": "Website", "notes": None}) == {"lines": None}
    assert buffer.changes({"title": "Website", "lines": [1]}) == {"lines": [1]}

    buffer.snapshot({"title": "Website", "notes": None})  # saved and shown again
    assert not buffer.has_changes({"title": "Website", "notes": None}) and buffer.touched == set()


def test_an_answer_older_than_what_is_shown_is_not_taken() -> None:
    buffer = EditBuffer()
    assert buffer.take(Record(7, 3))
    assert buffer.is_older(Record(7, 2))
    assert not buffer.take(Record(7, 2)), "a slow read that left before our save"
    assert buffer.latest == Record(7, 3)
    assert buffer.take(Record(7, 3)) and buffer.take(Record(7, 5))
    assert buffer.take(Record(8, 1)), "another record (a credit note opened in its place) is shown"
    assert buffer.latest == Record(8, 1)


def test_field_by_field_edits_still_load_send_and_settle() -> None:
    form: dict[str, Any] = {"name": "Ana", "phone": "1"}

    def changes(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in form.items() if v != record.get(k)}

    buffer = EditBuffer(changes)
    assert buffer.edits() == {} and not buffer.has_edits()
    first = {"id": 1, "version": 1, "name": "Ana", "phone": "1"}  # the record in the wire's shape
    assert buffer.load(Record(1, 1), first, keep_edits=False) is not None
    form["phone"] = "2"
    assert buffer.body() == {"version": 1, "phone": "2", "expected": {"phone": "1"}}
    shown = buffer.load(Record(1, 2), {"id": 1, "version": 2, "name": "Ana Pop", "phone": "1"}, keep_edits=True)
    assert shown == {"id": 1, "version": 2, "name": "Ana Pop", "phone": "2"}
    assert buffer.latest == Record(1, 2)
    form["name"] = "Ana Pop"  # the window shows theirs, with my phone over it
    assert buffer.load(Record(1, 1), first, keep_edits=True) is None, "older than what is shown"
    newest = {"id": 1, "version": 3, "name": "Ana Pop", "phone": "3"}
    assert buffer.settle(newest, ["phone"], keep_mine=[]) == newest
    assert buffer.body()["version"] == 3, "the next save is against the newest record"
