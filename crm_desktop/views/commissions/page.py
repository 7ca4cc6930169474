"""The Commissions page: three tabs, the commissions, the payouts and the policies."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from crm_desktop.session import Session
from crm_desktop.views.commissions.list import CommissionsList
from crm_desktop.views.commissions.payouts import PayoutReport
from crm_desktop.views.commissions.policies import PoliciesTab


class CommissionsPage(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Commissions", self)
        title.setProperty("role", "title")
        sub = QLabel(
            "What staff and partners earn from paid invoices of their deals: approved by managers, paid by finance.",
            self,
        )
        sub.setProperty("role", "muted")
        sub.setWordWrap(True)
        self.tabs = QTabWidget(self)
        self.list = CommissionsList(session)
        self.payouts = PayoutReport(session)
        self.policies = PoliciesTab(session)
        self.tabs.addTab(self.list, "Commissions")
        self.tabs.addTab(self.payouts, "Payouts")
        self.tabs.addTab(self.policies, "Policies")
        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(8)
        root.addWidget(title)
        root.addWidget(sub)
        root.addWidget(self.tabs, 1)
