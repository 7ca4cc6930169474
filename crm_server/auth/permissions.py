"""Who may do what: permissions per module and action, a record scope per module, and the
built-in roles. Checked on the server only; the desktop merely hides what a role cannot use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, false, or_, true

from crm_server.contract.auth import ACTIONS, MODULES, Scope

# Every action but `import` (issue #19): a spreadsheet of thousands of records is the Admin's to
# bring in unless a role is given it.
ALL = [a for a in ACTIONS if a != "import"]
VIEW = ["view"]
WORK = ["view", "create", "edit"]


def _grants(scope: Scope, **modules: list[str]) -> dict[str, dict[str, Any]]:
    return {m: {"actions": a, "scope": scope.value} for m, a in modules.items()}


BUILTIN_ROLES: dict[str, dict[str, Any]] = {
    "Admin": {
        "description": "Everything, including the admin panel.",
        "permissions": _grants(Scope.all, **{m: list(ACTIONS) for m in MODULES}),
    },
    "Manager": {
        "description": "Runs a team: sees and reassigns the team's records, reports.",
        "permissions": _grants(
            Scope.team,
            leads=ALL,
            clients=ALL,
            activities=ALL,
            tickets=ALL,
            proposals=ALL,
            invoices=[*WORK, "export"],
            payments=VIEW,
            products=VIEW,
            stock=VIEW,
            purchasing=VIEW,
            reports=["view", "export"],
            # Managers approve their team's commissions (edit), finance marks them paid.
            commissions=["view", "edit", "export"],
            # Their team's automation rules (issue #24): webhooks and other teams stay the admins'.
            automation=["view", "create", "edit", "delete"],
        ),
    },
    "Salesperson": {
        "description": "Own leads, clients, follow-ups and proposals.",
        "permissions": _grants(
            Scope.own,
            leads=WORK,
            clients=WORK,
            activities=WORK,
            proposals=WORK,
            invoices=VIEW,
            products=VIEW,
            stock=VIEW,
            reports=VIEW,
            commissions=VIEW,  # their own commissions
        ),
    },
    "Support agent": {
        "description": "The team's tickets; reads clients.",
        "permissions": {
            **_grants(Scope.team, tickets=WORK, activities=WORK),
            **_grants(Scope.all, clients=VIEW, products=VIEW),
        },
    },
    "Accountant": {
        "description": "Invoices, payments and financial reports.",
        "permissions": _grants(
            Scope.all,
            clients=VIEW,
            proposals=VIEW,
            invoices=ALL,
            payments=ALL,
            products=WORK,
            reports=["view", "export"],
            # Finance adds commissions by hand and marks approved ones paid (not approve: "edit").
            commissions=["view", "create", "export"],
        ),
    },
    "Warehouse": {
        "description": "Stock, warehouses and purchase orders.",
        "permissions": _grants(Scope.all, products=WORK, stock=ALL, purchasing=ALL, clients=VIEW),
    },
}


@dataclass(frozen=True)
class Principal:
    """The signed-in user as the rules see them."""

    user_id: int
    team_id: int | None
    role_id: int
    permissions: dict[str, Any] = field(default_factory=dict)
    session_id: int | None = None
    address: str | None = None
    # Set while the user must first change their password or set up 2FA: nothing else is allowed.
    pending: str | None = None

    def can(self, module: str, action: str) -> bool:
        return action in self.permissions.get(module, {}).get("actions", ())

    def scope(self, module: str) -> Scope:
        return Scope(self.permissions.get(module, {}).get("scope", Scope.own.value))

    def sees(self, module: str, owner_id: int | None, team_id: int | None) -> bool:
        """May this user see a record of `module` with this owner and team?"""
        if not self.can(module, "view"):
            return False
        scope = self.scope(module)
        if scope is Scope.all:
            return True
        if owner_id is not None and owner_id == self.user_id:
            return True
        return scope is Scope.team and team_id is not None and team_id == self.team_id

    def reaches(self, module: str, owner_id: int | None, team_id: int | None) -> bool:
        """Would a record of `module` with this owner and team be within this user's scope? Asked
        of where a change puts a record (a new team, a new owner): a change that takes a record
        out of one's scope needs the scope that covers where it goes. Scope all reaches anywhere;
        team scope their team's records and their own; own scope only their own, in their team or
        in none (so a salesperson cannot hand their lead to another team)."""
        scope = self.scope(module)
        if scope is Scope.all:
            return True
        if team_id is not None and team_id != self.team_id:
            return False
        if scope is Scope.team:
            return team_id is not None or owner_id == self.user_id
        return owner_id == self.user_id

    def scope_filter(
        self,
        module: str,
        owner_col: SQLColumnExpression[int | None],
        team_col: SQLColumnExpression[int | None] | None = None,
    ) -> ColumnElement[bool]:
        """A WHERE clause that keeps only the records this user may see in a list."""
        if not self.can(module, "view"):
            return false()
        scope = self.scope(module)
        if scope is Scope.all:
            return true()
        if scope is Scope.team and team_col is not None and self.team_id is not None:
            return or_(owner_col == self.user_id, team_col == self.team_id)
        return owner_col == self.user_id


def normalise_permissions(raw: dict[str, Any]) -> dict[str, Any]:
    """Keep known modules and actions only, so a role never grants something the server does not know."""
    clean: dict[str, Any] = {}
    for module, grant in raw.items():
        if module not in MODULES:
            continue
        actions = [a for a in ACTIONS if a in grant.get("actions", [])]
        scope = Scope(grant.get("scope", Scope.own.value)).value
        if actions:
            clean[module] = {"actions": actions, "scope": scope}
    return clean
