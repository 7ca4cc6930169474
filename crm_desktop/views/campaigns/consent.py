"""Record marketing consent: the addresses that agreed to campaign e-mail (a signed form, a ticked
box at a fair) and how they agreed. Nobody gets a campaign without it; an unsubscribe withdraws it."""

from __future__ import annotations

import asyncio
import re

from PySide6.QtWidgets import QDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QWidget

from crm_desktop import format, operations
from crm_desktop.api import campaigns as campaigns_api
from crm_desktop.session import Session
from crm_server.contract.campaigns import ConsentIn


class ConsentDialog(QDialog):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("consentDialog")
        self.setWindowTitle("Record consent")
        self.api = session.api
        self.addresses = QPlainTextEdit(self)
        self.addresses.setObjectName("consentAddresses")
        self.addresses.setPlaceholderText("One e-mail address a line (or separated by commas)")
        self.source = QLineEdit(self)
        self.source.setObjectName("consentSource")
        self.source.setPlaceholderText("How they agreed, e.g. sign-up sheet at the spring fair")
        self.outcome = QLabel(self)
        self.outcome.setObjectName("consentResult")
        self.outcome.setWordWrap(True)
        self.save_button = QPushButton("Record consent", self)
        self.save_button.setObjectName("consentSave")
        self.save_button.setDefault(True)
        close = QPushButton("Close", self)
        close.clicked.connect(self.reject)
        self.save_button.clicked.connect(self.save)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(close)
        buttons.addWidget(self.save_button)
        form = QFormLayout(self)
        form.addRow("Addresses", self.addresses)
        form.addRow("How", self.source)
        form.addRow("", self.outcome)
        form.addRow(buttons)
        self.resize(520, 360)

    def save(self) -> asyncio.Task[int | None]:
        addresses = [a for a in re.split(r"[\s,;]+", self.addresses.toPlainText()) if a]

        def done(count: int) -> None:
            self.outcome.setText(f"Consent recorded for {format.number(count)} addresses.")
            self.addresses.clear()

        return operations.run(
            self,
            campaigns_api.grant_consent(self.api, ConsentIn(addresses=addresses, source=self.source.text().strip())),
            success=done,
            changed=campaigns_api.CHANGED,
            fields={"addresses": self.addresses, "source": self.source},
            busy=self.save_button,
        )
