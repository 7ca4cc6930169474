"""Two people, one record. The version says whether anything changed since a window read the
record; `expected` (contract.common.Guarded) says whether the fields being saved did: the later of
two edits of the same field is refused and named, edits of different fields merge."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from crm_server.contract.common import Guarded
from crm_server.errors import Conflict, StaleVersion, ValidationFailed


class FieldChanged(Conflict):
    code = "field_changed"


def check_version(record: Any, version: int) -> None:
    """Refuse the save if the record changed since the person read it (409 stale_version)."""
    if record.version != version:
        raise StaleVersion(
            "Someone else changed this record since you opened it; reload it.",
            extra={"current_version": record.version},
        )


def _plain(value: Any) -> Any:
    if value == "" or value == []:
        return None
    if isinstance(value, list):
        return sorted(str(v) for v in value)
    return value


def _wire(adapter: TypeAdapter[Any], value: Any) -> Any:
    """A stored value as the wire says it (a column's text read as its enum first)."""
    try:
        value = adapter.validate_python(value)
    except ValidationError:
        pass  # shown as stored
    return adapter.dump_python(value, mode="json", warnings=False)


def check_unchanged(record: object, data: Guarded) -> None:
    """Refuse the save if a field it changes no longer holds what the person began from."""
    expected = data.expected or {}
    sent = data.model_fields_set - {"version", "expected"}
    fields = type(data).model_fields if isinstance(data, BaseModel) else {}
    conflicts: list[dict[str, Any]] = []
    for name, was in sorted(expected.items()):
        if name not in sent or name not in fields:
            raise ValidationFailed(
                f"“expected” names {name[:50]!r}, which this save does not change.", field="expected"
            )
        annotation = fields[name].annotation
        adapter: TypeAdapter[Any] = TypeAdapter(Any if annotation is None else annotation)
        try:
            began = adapter.validate_python(was)
        except ValidationError:
            raise ValidationFailed(f"“expected” holds a value that {name} cannot have.", field="expected") from None
        now = getattr(record, name, None)
        if _plain(now) != _plain(began):
            conflicts.append({"field": name, "theirs": _wire(adapter, now)})
    if conflicts:
        names = ", ".join(c["field"].replace("_", " ") for c in conflicts)
        raise FieldChanged(
            f"Someone else changed {names} while you were editing; choose which value to keep.",
            field=conflicts[0]["field"],
            extra={"conflicts": conflicts, "current_version": getattr(record, "version", None)},
        )
