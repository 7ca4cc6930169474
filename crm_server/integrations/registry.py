"""Which provider module speaks for which provider (imported when first asked for)."""

from __future__ import annotations

import importlib
from types import ModuleType

from crm_server.contract.integrations import PROVIDERS


def provider(name: str) -> ModuleType | None:
    """The provider module (`crm_server/integrations/<name>.py`), or None for a name we do not know."""
    if name not in PROVIDERS:
        return None
    return importlib.import_module(f"crm_server.integrations.{name}")
