"""An edit sent again with the same Idempotency-Key (the desktop's outbox after a lost answer) gets
the first answer back instead of meeting its own write as a stale version; a key reused for another
request is refused naming the header; a repeated DELETE answers 204 again."""

from __future__ import annotations

from typing import Any

from tests.support import LiveServer


async def test_a_repeated_edit_returns_the_first_answer_and_changes_once(server: LiveServer, admin: Any) -> None:
    lead = (await admin.post("/api/leads", json={"person_name": "Ida Idem", "company": "Before"})).json()
    edit = {"company": "After", "version": lead["version"]}
    first = await admin.patch(f"/api/leads/{lead['id']}", json=edit, headers={"Idempotency-Key": "edit-1"})
    assert first.status_code == 200, first.text
    again = await admin.patch(f"/api/leads/{lead['id']}", json=edit, headers={"Idempotency-Key": "edit-1"})
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true", again.text
    assert again.json() == first.json()
    stored = (await admin.get(f"/api/leads/{lead['id']}")).json()
    assert stored["company"] == "After" and stored["version"] == lead["version"] + 1
    # Without a key the same body is a new edit, based on an old version: refused, as before.
    stale = await admin.patch(f"/api/leads/{lead['id']}", json=edit)
    assert stale.status_code == 409, stale.text
    # The key of that edit, reused for a different one: refused, naming the header.
    other = await admin.patch(
        f"/api/leads/{lead['id']}",
        json={"company": "Else", "version": stored["version"]},
        headers={"Idempotency-Key": "edit-1"},
    )
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key", other.text
    too_long = await admin.patch(f"/api/leads/{lead['id']}", json=edit, headers={"Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422 and too_long.json()["field"] == "Idempotency-Key", too_long.text


async def test_a_repeated_delete_answers_204_again(server: LiveServer, admin: Any) -> None:
    me = (await admin.get("/api/auth/me")).json()["id"]
    schedule = {"name": "Daily losses", "report": "lost", "user_ids": [me]}
    made = await admin.post("/api/reports/schedules", json=schedule)
    assert made.status_code == 201, made.text
    path = f"/api/reports/schedules/{made.json()['id']}"
    for _ in range(2):
        gone = await admin.delete(path, headers={"Idempotency-Key": "delete-1"})
        assert gone.status_code == 204 and gone.content == b"", gone.text
