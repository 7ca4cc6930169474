"""Auth, users, roles, teams and sessions on the wire."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from crm_server.contract.common import Model

MODULES = (
    "leads",
    "clients",
    "activities",
    "tickets",
    "proposals",
    "invoices",
    "orders",
    "payments",
    "products",
    "stock",
    "purchasing",
    "reports",
    "commissions",
    "integrations",
    "automation",
    "admin",
)
ACTIONS = ("view", "create", "edit", "delete", "export", "import")


class Scope(StrEnum):
    own = "own"
    team = "team"
    all = "all"


class ModuleGrant(Model):
    """What a role may do in one module, and on which records."""

    actions: list[str] = Field(default_factory=list)
    scope: Scope = Scope.own


Permissions = dict[str, ModuleGrant]


# --- login ---------------------------------------------------------------------------------------


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    otp: str | None = Field(default=None, max_length=32, description="TOTP or recovery code")
    client: str | None = Field(default=None, max_length=200)


class LoginResponse(Model):
    token: str
    expires_at: datetime
    user: Me


class Me(Model):
    id: int
    email: str
    full_name: str
    phone: str | None
    team_id: int | None
    role_id: int
    role_name: str
    permissions: Permissions
    must_change_password: bool
    totp_enabled: bool
    totp_required: bool


class ChangePasswordRequest(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class ForgotPasswordRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)


class ResetPasswordRequest(BaseModel):
    token: str = Field(min_length=10, max_length=200)
    new_password: str = Field(max_length=1024)


class TotpSetup(Model):
    secret: str
    uri: str
    qr_svg: str


class TotpConfirm(BaseModel):
    code: str = Field(min_length=6, max_length=8)


class RecoveryCodes(Model):
    codes: list[str]


class PasswordConfirm(BaseModel):
    """The account's password once more, for a change a stolen session must not make alone
    (new recovery codes, two-factor sign-in off)."""

    password: str = Field(max_length=1024)


# --- users, roles, teams -------------------------------------------------------------------------


class Colleague(Model):
    """Another user as any colleague sees them (owner pickers, assignee names): who they are and
    their team; the avatar is drawn from the name (no pictures are stored). Their sign-in details
    (phone, 2FA, locks, last sign-in) are for admins only, in UserOut. No other field is allowed:
    GET /api/users answers one shape or the other, never a colleague with more."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")
    id: int
    full_name: str
    email: str
    team_id: int | None
    active: bool


class UserOut(Model):
    id: int
    email: str
    full_name: str
    phone: str | None
    team_id: int | None
    role_id: int
    active: bool
    must_change_password: bool
    totp_enabled: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    version: int


class UserCreate(BaseModel):
    email: EmailStr
    full_name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    team_id: int | None = None
    role_id: int
    password: str | None = Field(
        default=None, max_length=1024, description="initial password; leave empty to email a set-password link"
    )


class UserUpdate(BaseModel):
    version: int
    email: EmailStr | None = None
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    team_id: int | None = None
    role_id: int | None = None
    password: str | None = Field(
        default=None, max_length=1024, description="your own password: needed to change your own email"
    )


class DeactivateRequest(BaseModel):
    version: int
    reassign_to: int | None = Field(default=None, description="who receives the user's open records")


class SetPasswordRequest(BaseModel):
    password: str = Field(max_length=1024)


class RoleOut(Model):
    id: int
    name: str
    description: str
    builtin: bool
    require_2fa: bool
    permissions: Permissions
    user_count: int = 0
    version: int


class RoleIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)
    require_2fa: bool = False
    permissions: Permissions = Field(default_factory=dict)


class RoleUpdate(RoleIn):
    version: int


class TeamOut(Model):
    id: int
    name: str
    lead_user_id: int | None
    member_ids: list[int] = Field(default_factory=list)
    version: int


class TeamIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    lead_user_id: int | None = None
    member_ids: list[int] | None = None


class TeamUpdate(TeamIn):
    version: int


class LoginRecord(Model):
    id: int
    at: datetime
    user_id: int | None
    email: str
    address: str | None
    client: str | None
    result: str


class SecurityEventOut(Model):
    id: int
    at: datetime
    kind: str
    actor_id: int | None
    target_user_id: int | None
    address: str | None
    detail: dict[str, object]


class LoginResult(StrEnum):
    success = "success"
    bad_credentials = "bad_credentials"
    locked = "locked"
    inactive = "inactive"
    otp_required = "otp_required"
    bad_otp = "bad_otp"
    throttled = "throttled"
    blocked = "blocked"  # from an address an admin blocked: refused before any password check
    error = "error"  # the attempt did not finish (the request failed): still counted
    unlocked = "unlocked"  # an admin lifted the lock: earlier failures no longer count
    reset_requested = "reset_requested"  # forgot-password asked (whether or not the email exists)
    reset_limited = "reset_limited"  # forgot-password asked too often: nothing sent


class BlockedAddressIn(BaseModel):
    address: str = Field(
        min_length=2, max_length=64, description="an address (203.0.113.7) or a range (203.0.113.0/24)"
    )
    reason: str = Field(default="", max_length=500)


class BlockedAddressOut(Model):
    id: int
    network: str
    reason: str
    created_at: datetime
    created_by: int | None
    lifted_at: datetime | None
    lifted_by: int | None


class FailureGroup(Model):
    """Failed sign-ins from one address in a period, taken together."""

    address: str | None
    count: int
    first_at: datetime
    last_at: datetime
    emails: list[str] = Field(description="the emails tried, lower-cased (at most 10)")
    email_count: int
    user_ids: list[int] = Field(default_factory=list, description="accounts that exist among them")
    blocked: bool = False


LoginResponse.model_rebuild()
