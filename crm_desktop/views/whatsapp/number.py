"""The business number's quality rating and messaging limit tier, read from the Cloud API each time
the WhatsApp integration is shown (the seeds' "check your credit balance": a red rating or a low
tier explains undelivered campaigns). A refusal (not configured yet, a bad token) is shown in words
in the same place, not as an error dialog."""

from __future__ import annotations

import asyncio

import shiboken6
from PySide6.QtWidgets import QLabel, QWidget

from crm_desktop import tasks
from crm_desktop.api import whatsapp as whatsapp_api
from crm_desktop.api.client import ApiClient, ApiError
from crm_server.contract.whatsapp import NumberOut


class NumberQuality(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("whatsappNumberQuality")
        self.setWordWrap(True)
        self.setProperty("role", "muted")
        self.number: NumberOut | None = None
        self._task: asyncio.Task[None] | None = None
        self.setVisible(False)

    def follow(self, api: ApiClient, provider: str | None) -> None:
        """Shown (and read afresh) for WhatsApp only."""
        self.setVisible(provider == "whatsapp")
        if provider != "whatsapp":
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.setText("Reading the number's quality rating from WhatsApp…")
        self._task = tasks.spawn(self._read(api))

    async def _read(self, api: ApiClient) -> None:
        try:
            number = await whatsapp_api.number(api)
        except ApiError as exc:
            if shiboken6.isValid(self):
                self.number = None
                self.setText(f"Quality rating not available: {exc.message}")
            return
        if shiboken6.isValid(self):
            self.show_number(number)

    def show_number(self, number: NumberOut) -> None:
        self.number = number
        name = number.verified_name or "The number"
        shown = f" (+{number.display_phone_number})" if number.display_phone_number else ""
        self.setText(f"{name}{shown}. {number.words}")
