"""Typed calls for the admin panel: settings, users, roles, teams, the audit and security logs,
system health, pipelines and the sales lists, assignment rules, tax rates, ticket categories, the
email pipe's log, invoice emails and website forms. The wire models come from crm_server.contract.
The VAT rates and the warehouses are read with their areas' own calls (products.tax_rates,
stock.list_warehouses).

    values = (await admin.get_settings(api)).values
    operations.run(self, admin.save_settings(api, {"company.name": "Acme"}), changed=admin.SETTINGS)

Bodies go out as the dicts the pages build (the server's request models check them); answers come
back as contract models. List endpoints that a paged table reads take the table's filters as
keyword arguments (`None` is left out of the query).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx
from pydantic import TypeAdapter

from crm_desktop.api.client import ApiClient, ApiError
from crm_server.contract.admin import AuditEntryOut, Health, JobRun, SettingsOut
from crm_server.contract.auth import (
    BlockedAddressOut,
    FailureGroup,
    LoginRecord,
    RoleOut,
    SecurityEventOut,
    TeamOut,
    UserOut,
)
from crm_server.contract.common import Ok, Page
from crm_server.contract.email_pipe import PipeLogEntry, PipeResult
from crm_server.contract.invoices import InvoiceEmailOut
from crm_server.contract.leads import AssignmentRuleOut, NamedItemOut, PipelineOut
from crm_server.contract.products import TaxRateOut
from crm_server.contract.tickets import CategoryOut
from crm_server.contract.webforms import EmbedSnippet, WebFormOut

Body = dict[str, Any]

# What each kind of change announces on the change bus (operations.run(..., changed=...)).
SETTINGS = frozenset({"admin.settings"})
USERS = frozenset({"admin.users"})
ROLES = frozenset({"admin.roles"})
TEAMS = frozenset({"admin.teams", "admin.users"})
TEAM_AREAS = frozenset({"admin.teams", "admin.team"})  # what a page showing teams reloads on
PIPELINE = frozenset({"admin.pipeline"})
LISTS = frozenset({"admin.lost_reason", "admin.lead_source"})
RULES = frozenset({"admin.assignment_rule"})
TAX_RATES = frozenset({"products", "products.tax_rate"})
TAX_RATE_AREAS = frozenset({"products.tax_rate"})
CATEGORIES = frozenset({"tickets.ticket_category"})
EMAIL_LOG = frozenset({"admin.email_pipe_log"})
INVOICE_EMAILS = frozenset({"invoices", "invoices.invoice", "invoices.email"})
WEB_FORMS = frozenset({"admin.web_form"})

ListKind = Literal["lost-reasons", "lead-sources"]

_USERS = TypeAdapter(Page[UserOut])
_AUDIT = TypeAdapter(Page[AuditEntryOut])
_LOGINS = TypeAdapter(Page[LoginRecord])
_SECURITY = TypeAdapter(Page[SecurityEventOut])
_FAILURES = TypeAdapter(Page[FailureGroup])
_BLOCKS = TypeAdapter(Page[BlockedAddressOut])
_EMAIL_LOG = TypeAdapter(Page[PipeLogEntry])
_INVOICE_EMAILS = TypeAdapter(Page[InvoiceEmailOut])
_ROLES = TypeAdapter(list[RoleOut])
_TEAMS = TypeAdapter(list[TeamOut])
_JOBS = TypeAdapter(list[JobRun])
_PIPELINES = TypeAdapter(list[PipelineOut])
_ITEMS = TypeAdapter(list[NamedItemOut])
_RULES = TypeAdapter(list[AssignmentRuleOut])
_CATEGORIES = TypeAdapter(list[CategoryOut])
_WEB_FORMS = TypeAdapter(list[WebFormOut])


# --- settings --------------------------------------------------------------------------------------


async def get_settings(api: ApiClient) -> SettingsOut:
    """Every setting; secret ones read as true / false (set or not)."""
    return SettingsOut.model_validate(await api.get("/api/settings"))


async def save_settings(api: ApiClient, values: Body) -> SettingsOut:
    """Only the keys to change; the answer holds every setting again."""
    return SettingsOut.model_validate(await api.patch("/api/settings", {"values": values}))


async def send_test_email(api: ApiClient, to: str) -> Ok:
    return Ok.model_validate(await api.post("/api/settings/test-email", {"to": to}))


# --- users -----------------------------------------------------------------------------------------


async def list_users(api: ApiClient, offset: int = 0, limit: int = 100, **filters: Any) -> Page[UserOut]:
    return _USERS.validate_python(await api.get("/api/users", offset=offset, limit=limit, **filters))


async def get_user(api: ApiClient, user_id: int) -> UserOut:
    return UserOut.model_validate(await api.get(f"/api/users/{user_id}"))


async def create_user(api: ApiClient, body: Body) -> UserOut:
    return UserOut.model_validate(await api.post("/api/users", body))


async def update_user(api: ApiClient, user_id: int, body: Body) -> UserOut:
    return UserOut.model_validate(await api.patch(f"/api/users/{user_id}", body))


async def deactivate_user(api: ApiClient, user_id: int, version: int, reassign_to: int | None) -> dict[str, int]:
    """How many records of each kind went to `reassign_to`."""
    answer = await api.post(f"/api/users/{user_id}/deactivate", {"version": version, "reassign_to": reassign_to})
    return {str(k): int(v) for k, v in dict(answer).items()}


async def reactivate_user(api: ApiClient, user_id: int, version: int) -> UserOut:
    return UserOut.model_validate(await api.post(f"/api/users/{user_id}/reactivate", {"version": version}))


async def set_password(api: ApiClient, user_id: int, password: str) -> Ok:
    return Ok.model_validate(await api.post(f"/api/users/{user_id}/password", {"password": password}))


async def unlock_user(api: ApiClient, user_id: int) -> Ok:
    return Ok.model_validate(await api.post(f"/api/users/{user_id}/unlock"))


async def send_reset(api: ApiClient, user_id: int) -> Ok:
    return Ok.model_validate(await api.post(f"/api/users/{user_id}/send-reset"))


async def reset_2fa(api: ApiClient, user_id: int) -> Ok:
    return Ok.model_validate(await api.post(f"/api/users/{user_id}/reset-2fa"))


# --- roles and teams -------------------------------------------------------------------------------


async def list_roles(api: ApiClient) -> list[RoleOut]:
    return _ROLES.validate_python(await api.get("/api/roles"))


async def create_role(api: ApiClient, body: Body) -> RoleOut:
    return RoleOut.model_validate(await api.post("/api/roles", body))


async def update_role(api: ApiClient, role_id: int, body: Body) -> RoleOut:
    return RoleOut.model_validate(await api.put(f"/api/roles/{role_id}", body))


async def delete_role(api: ApiClient, role_id: int) -> Ok:
    return Ok.model_validate(await api.delete(f"/api/roles/{role_id}"))


async def list_teams(api: ApiClient) -> list[TeamOut]:
    return _TEAMS.validate_python(await api.get("/api/teams"))


async def create_team(api: ApiClient, name: str) -> TeamOut:
    return TeamOut.model_validate(await api.post("/api/teams", {"name": name}))


async def update_team(api: ApiClient, team_id: int, body: Body) -> TeamOut:
    return TeamOut.model_validate(await api.put(f"/api/teams/{team_id}", body))


# --- audit, security log, blocked addresses ---------------------------------------------------------


async def audit(api: ApiClient, offset: int = 0, limit: int = 100, **filters: Any) -> Page[AuditEntryOut]:
    return _AUDIT.validate_python(await api.get("/api/audit", offset=offset, limit=limit, **filters))


@asynccontextmanager
async def audit_csv(api: ApiClient, params: dict[str, Any]) -> AsyncIterator[httpx.Response]:
    """The audit log as CSV, streamed (it can be large): read it with `aiter_bytes()`."""
    headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
    query = {k: v for k, v in params.items() if v is not None}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=60) as http:
        async with http.stream("GET", "/api/audit.csv", params=query) as response:
            if response.status_code >= 400:
                await response.aread()
                raise ApiError.from_response(response)
            yield response


async def login_history(api: ApiClient, offset: int = 0, limit: int = 100, **filters: Any) -> Page[LoginRecord]:
    return _LOGINS.validate_python(await api.get("/api/login-history", offset=offset, limit=limit, **filters))


async def security_log(api: ApiClient, offset: int = 0, limit: int = 100, **filters: Any) -> Page[SecurityEventOut]:
    return _SECURITY.validate_python(await api.get("/api/security-log", offset=offset, limit=limit, **filters))


async def security_failures(api: ApiClient, offset: int = 0, limit: int = 100, **filters: Any) -> Page[FailureGroup]:
    return _FAILURES.validate_python(await api.get("/api/security-log/failures", offset=offset, limit=limit, **filters))


async def blocked_addresses(
    api: ApiClient, offset: int = 0, limit: int = 100, after: str | None = None
) -> Page[BlockedAddressOut]:
    return _BLOCKS.validate_python(await api.get("/api/blocked-addresses", offset=offset, limit=limit, after=after))


async def block_address(api: ApiClient, body: Body) -> BlockedAddressOut:
    return BlockedAddressOut.model_validate(await api.post("/api/blocked-addresses", body))


async def lift_block(api: ApiClient, block_id: int) -> BlockedAddressOut:
    return BlockedAddressOut.model_validate(await api.post(f"/api/blocked-addresses/{block_id}/lift"))


# --- system health ---------------------------------------------------------------------------------


async def health(api: ApiClient) -> Health:
    return Health.model_validate(await api.get("/api/admin/health"))


async def jobs(api: ApiClient, limit: int = 50, failed_only: bool = False) -> list[JobRun]:
    return _JOBS.validate_python(await api.get("/api/admin/jobs", limit=limit, failed_only=failed_only))


# --- pipelines, sales lists, assignment rules ------------------------------------------------------


async def pipelines(api: ApiClient) -> list[PipelineOut]:
    return _PIPELINES.validate_python(await api.get("/api/pipelines"))


async def create_pipeline(api: ApiClient, name: str) -> PipelineOut:
    return PipelineOut.model_validate(await api.post("/api/pipelines", {"name": name}))


async def update_pipeline(api: ApiClient, pipeline_id: int, body: Body) -> PipelineOut:
    return PipelineOut.model_validate(await api.patch(f"/api/pipelines/{pipeline_id}", body))


async def add_status(api: ApiClient, pipeline_id: int, body: Body) -> PipelineOut:
    return PipelineOut.model_validate(await api.post(f"/api/pipelines/{pipeline_id}/statuses", body))


async def update_status(api: ApiClient, pipeline_id: int, status_id: int, body: Body) -> PipelineOut:
    return PipelineOut.model_validate(await api.patch(f"/api/pipelines/{pipeline_id}/statuses/{status_id}", body))


async def order_statuses(api: ApiClient, pipeline_id: int, status_ids: list[int]) -> PipelineOut:
    answer = await api.put(f"/api/pipelines/{pipeline_id}/statuses/order", {"status_ids": status_ids})
    return PipelineOut.model_validate(answer)


async def delete_status(api: ApiClient, pipeline_id: int, status_id: int, move_to: int) -> PipelineOut:
    """Delete a status; its leads move to `move_to` first."""
    answer = await api.request(
        "DELETE", f"/api/pipelines/{pipeline_id}/statuses/{status_id}", params={"move_to": move_to}
    )
    return PipelineOut.model_validate(answer)


async def leads_in_status(api: ApiClient, status_id: int) -> int:
    """How many leads (closed ones too) stand in a status."""
    page = await api.get("/api/leads", status_id=status_id, include_closed=True, limit=1)
    return int(page["total"])


async def list_items(api: ApiClient, kind: ListKind, include_inactive: bool = True) -> list[NamedItemOut]:
    """Lost reasons or lead sources."""
    return _ITEMS.validate_python(await api.get(f"/api/{kind}", include_inactive=include_inactive))


async def create_item(api: ApiClient, kind: ListKind, body: Body) -> NamedItemOut:
    return NamedItemOut.model_validate(await api.post(f"/api/{kind}", body))


async def update_item(api: ApiClient, kind: ListKind, item_id: int, body: Body) -> NamedItemOut:
    return NamedItemOut.model_validate(await api.patch(f"/api/{kind}/{item_id}", body))


async def assignment_rules(api: ApiClient) -> list[AssignmentRuleOut]:
    return _RULES.validate_python(await api.get("/api/assignment-rules"))


async def create_rule(api: ApiClient, body: Body) -> AssignmentRuleOut:
    return AssignmentRuleOut.model_validate(await api.post("/api/assignment-rules", body))


async def update_rule(api: ApiClient, rule_id: int, body: Body) -> AssignmentRuleOut:
    return AssignmentRuleOut.model_validate(await api.put(f"/api/assignment-rules/{rule_id}", body))


async def delete_rule(api: ApiClient, rule_id: int) -> Ok:
    return Ok.model_validate(await api.delete(f"/api/assignment-rules/{rule_id}"))


async def order_rules(api: ApiClient, rule_ids: list[int]) -> list[AssignmentRuleOut]:
    return _RULES.validate_python(await api.put("/api/assignment-rules/order", {"rule_ids": rule_ids}))


# --- tax rates, ticket categories -------------------------------------------------------------------


async def create_tax_rate(api: ApiClient, body: Body) -> TaxRateOut:
    return TaxRateOut.model_validate(await api.post("/api/tax-rates", body))


async def update_tax_rate(api: ApiClient, rate_id: int, body: Body) -> TaxRateOut:
    return TaxRateOut.model_validate(await api.patch(f"/api/tax-rates/{rate_id}", body))


async def ticket_categories(api: ApiClient, include_inactive: bool = True) -> list[CategoryOut]:
    return _CATEGORIES.validate_python(await api.get("/api/ticket-categories", include_inactive=include_inactive))


async def create_category(api: ApiClient, body: Body) -> CategoryOut:
    return CategoryOut.model_validate(await api.post("/api/ticket-categories", body))


async def update_category(api: ApiClient, category_id: int, body: Body) -> CategoryOut:
    return CategoryOut.model_validate(await api.patch(f"/api/ticket-categories/{category_id}", body))


# --- email pipe log, invoice emails ----------------------------------------------------------------


async def email_log(api: ApiClient, offset: int = 0, limit: int = 100, **filters: Any) -> Page[PipeLogEntry]:
    return _EMAIL_LOG.validate_python(await api.get("/api/email-pipe/log", offset=offset, limit=limit, **filters))


async def email_raw(api: ApiClient, log_id: int) -> bytes:
    """The message exactly as it arrived (RFC 822 bytes)."""
    response = await api.request("GET", f"/api/email-pipe/log/{log_id}/raw", raw=True)
    return bytes(response.content)


async def replay_email(api: ApiClient, log_id: int) -> PipeResult:
    return PipeResult.model_validate(await api.post(f"/api/email-pipe/log/{log_id}/replay"))


async def invoice_emails(api: ApiClient, offset: int = 0, limit: int = 100, **filters: Any) -> Page[InvoiceEmailOut]:
    return _INVOICE_EMAILS.validate_python(await api.get("/api/invoice-emails", offset=offset, limit=limit, **filters))


# --- website forms ---------------------------------------------------------------------------------


async def web_forms(api: ApiClient) -> list[WebFormOut]:
    return _WEB_FORMS.validate_python(await api.get("/api/web-forms"))


async def create_web_form(api: ApiClient, body: Body) -> WebFormOut:
    return WebFormOut.model_validate(await api.post("/api/web-forms", body))


async def update_web_form(api: ApiClient, form_id: int, body: Body) -> WebFormOut:
    return WebFormOut.model_validate(await api.put(f"/api/web-forms/{form_id}", body))


async def delete_web_form(api: ApiClient, form_id: int) -> Ok:
    return Ok.model_validate(await api.delete(f"/api/web-forms/{form_id}"))


async def new_form_key(api: ApiClient, form_id: int) -> WebFormOut:
    """A fresh key: the old embed snippet stops working."""
    return WebFormOut.model_validate(await api.post(f"/api/web-forms/{form_id}/new-key"))


async def form_snippet(api: ApiClient, form_id: int) -> EmbedSnippet:
    return EmbedSnippet.model_validate(await api.get(f"/api/web-forms/{form_id}/snippet"))
