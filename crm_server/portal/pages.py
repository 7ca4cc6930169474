"""The partner portal's pages under /portal: server-rendered HTML (Jinja2, autoescaped), plain forms
(no JavaScript), one stylesheet. Every POST carries a CSRF token; every page the security headers
(security.HEADERS). A partner user sees only their own company's registrations."""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import pyotp
import segno
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.commissions import payouts
from crm_server.db import Database, utcnow
from crm_server.errors import AppError, TooManyRequests, ValidationFailed
from crm_server.partners import partner_view, registrations
from crm_server.portal import security, signin
from crm_server.portal.security import Visitor
from crm_server.routing import client_address

router = APIRouter(prefix="/portal", route_class=security.PortalRoute, include_in_schema=False)
MAX_FORM = 20_000  # characters of a form body (the notes field is the longest)

env = Environment(
    loader=PackageLoader("crm_server.portal", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["day"] = lambda value: value.strftime("%d %b %Y") if value else ""
env.filters["month"] = lambda value: value.strftime("%B %Y") if value else ""
env.filters["money"] = lambda value: f"{value:,.2f}" if value is not None else ""


def _session(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.session
    return session


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def page(template: str, status: int = 200, /, **context: Any) -> HTMLResponse:
    return HTMLResponse(env.get_template(template).render(**context), status_code=status)


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form as name -> value (the last one of a repeated name); input_guard has
    already refused control characters and oversized bodies."""
    raw = await request.body()
    if len(raw) > MAX_FORM:
        raise ValidationFailed("This form is too long.", field="notes", code="too_large")
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=30))
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed("This form could not be read.", field="form") from None


def error_page(request: Request, exc: AppError) -> Response:
    if isinstance(exc, security.SignInNeeded):
        return _see("/portal/signin")
    if isinstance(exc, security.SecondStepNeeded):
        return _see("/portal/signin/code")
    response = page("error.html", exc.status, message=exc.message, field=exc.field)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def _nav(visitor: Visitor, **context: Any) -> dict[str, Any]:
    return {"visitor": visitor, "csrf": visitor.csrf, **context}


# --- the stylesheet ------------------------------------------------------------------------------

_CSS = files("crm_server.portal").joinpath("templates", "portal.css").read_text(encoding="utf-8")


@router.get("/portal.css")
async def stylesheet() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


# --- signing in and out --------------------------------------------------------------------------


async def _signin_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    token = security.pre_token(request)
    response = page("signin.html", status, csrf=token, **context)
    security.set_cookie(response, security.PRE_COOKIE, token, await security.is_tls(_session(request), request))
    return response


@router.get("")
async def home() -> Response:
    return _see("/portal/dashboard")


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    notice = "Your password is set. Sign in." if request.query_params.get("done") == "1" else None
    return await _signin_page(request, notice=notice)


@router.post("/signin")
async def signin_post(request: Request) -> Response:
    form = await _form(request)
    security.check_pre_token(request, form)
    session = _session(request)
    try:
        token, complete = await signin.sign_in(
            _db(request), session, form.get("email", ""), form.get("password", ""), client_address(request)
        )
    except AppError as exc:
        return await _signin_page(request, exc.status, error=exc.message, email=form.get("email", "")[:320])
    await security.end_previous(session, request)
    response = _see("/portal/dashboard" if complete else "/portal/signin/code")
    security.set_cookie(response, security.COOKIE, token, await security.is_tls(session, request))
    return response


@router.get("/signin/code")
async def code_form(request: Request) -> Response:
    visitor = await security.visitor(_session(request), request, second_step=True)
    return page("code.html", csrf=visitor.csrf)


@router.post("/signin/code")
async def code_post(request: Request) -> Response:
    session = _session(request)
    visitor = await security.visitor(session, request, second_step=True)
    form = await _form(request)
    security.check_csrf(visitor, form)
    try:
        token = await signin.second_step(_db(request), session, visitor, form.get("code", ""), client_address(request))
    except AppError as exc:
        return page("code.html", exc.status, csrf=visitor.csrf, error=exc.message)
    response = _see("/portal/dashboard")
    security.set_cookie(response, security.COOKIE, token, await security.is_tls(session, request))
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    session = _session(request)
    visitor = await security.visitor(session, request, second_step=True)
    security.check_csrf(visitor, await _form(request))
    await security.end(session, visitor.session_id, "signed_out")
    response = _see("/portal/signin")
    security.forget_cookie(response, await security.is_tls(session, request))
    return response


# --- accepting an invitation ---------------------------------------------------------------------


async def _accept_page(request: Request, token: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The set-password form of a working invitation (whose person it greets)."""
    session = _session(request)
    _, user = await signin.invitation(session, token)
    min_length = int(await settings.get(session, "security.password_min_length"))
    pre = security.pre_token(request)
    response = page(
        "accept.html",
        status,
        csrf=pre,
        token=token,
        email=user.email,
        name=user.full_name,
        min_length=min_length,
        **context,
    )
    security.set_cookie(response, security.PRE_COOKIE, pre, await security.is_tls(_session(request), request))
    return response


@router.get("/accept")
async def accept_form(request: Request, token: Annotated[str, Query(max_length=200)] = "") -> Response:
    try:
        return await _accept_page(request, token)
    except AppError as exc:
        return page("error.html", exc.status, message=exc.message, field=exc.field)


@router.post("/accept")
async def accept_post(request: Request) -> Response:
    form = await _form(request)
    security.check_pre_token(request, form)
    token = form.get("token", "")
    try:
        await signin.accept(_session(request), token, form.get("password", ""), form.get("repeat", ""))
    except ValidationFailed as exc:
        if exc.field == "token":
            return page("error.html", exc.status, message=exc.message, field=exc.field)
        return await _accept_page(request, token, exc.status, error=exc.message, field=exc.field)
    return _see("/portal/signin?done=1")


# --- the partner's pages -------------------------------------------------------------------------


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    session = _session(request)
    visitor = await security.visitor(session, request)
    numbers = await partner_view.dashboard(session, visitor.partner)
    latest, _ = await partner_view.partner_leads(session, visitor.partner, "", 0)
    # Commissions (issue #25): earned / pending / paid, by month (templates/commission.html).
    commission = await payouts.partner_summary(session, visitor.partner.id)
    return page("dashboard.html", **_nav(visitor, numbers=numbers, latest=latest[:5], commission=commission))


@router.get("/leads")
async def lead_list(
    request: Request,
    q: Annotated[str, Query(max_length=100)] = "",
    page_no: Annotated[int, Query(alias="page", ge=0, le=10_000)] = 0,
) -> Response:
    session = _session(request)
    visitor = await security.visitor(session, request)
    rows, more = await partner_view.partner_leads(session, visitor.partner, q, page_no)
    following = "/portal/leads?" + urlencode({"q": q, "page": page_no + 1}) if more else None
    earlier = "/portal/leads?" + urlencode({"q": q, "page": page_no - 1}) if page_no > 0 else None
    return page("leads.html", **_nav(visitor, rows=rows, q=q, following=following, earlier=earlier))


@router.get("/leads/new")
async def submit_form(request: Request) -> Response:
    visitor = await security.visitor(_session(request), request)
    return page("submit.html", **_nav(visitor, values={}))


@router.post("/leads/new")
async def submit_post(request: Request) -> Response:
    session = _session(request)
    visitor = await security.visitor(session, request)
    form = await _form(request)
    security.check_csrf(visitor, form)
    fields = {k: form.get(k, "") for k in registrations.LIMITS}
    try:
        answer = await registrations.submit(session, visitor.user, visitor.partner, registrations.Submission(**fields))
    except (ValidationFailed, TooManyRequests) as exc:
        return page("submit.html", exc.status, **_nav(visitor, values=fields, error=exc.message, field=exc.field))
    return page("submitted.html", **_nav(visitor, answer=answer))


@router.get("/leads/{registration_id}")
async def lead_page(request: Request, registration_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> Response:
    session = _session(request)
    visitor = await security.visitor(session, request)
    lead = await partner_view.partner_lead(session, visitor.partner, registration_id)
    return page("lead.html", **_nav(visitor, lead=lead))


# --- the account: optional two-step sign-in ------------------------------------------------------


def _qr(user_email: str, secret: str) -> Markup:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user_email, issuer_name="CRM partner portal")
    return Markup(segno.make(uri, error="m").svg_inline(scale=4))


@router.get("/account")
async def account(request: Request) -> Response:
    session = _session(request)
    visitor = await security.visitor(session, request)
    user = visitor.user
    qr = None
    if not user.totp_enabled:
        if not user.totp_secret:
            user.totp_secret = pyotp.random_base32()
        qr = _qr(user.email, user.totp_secret)
    return page("account.html", **_nav(visitor, user=user, qr=qr))


@router.post("/account/totp")
async def account_totp(request: Request) -> Response:
    session = _session(request)
    visitor = await security.visitor(session, request)
    form = await _form(request)
    security.check_csrf(visitor, form)
    user = visitor.user
    if not signin.check_code(user, form.get("code", "")[:20], utcnow()):
        qr = None if user.totp_enabled or not user.totp_secret else _qr(user.email, user.totp_secret)
        error = "That code is not valid (or was used already)."
        return page("account.html", 422, **_nav(visitor, user=user, qr=qr, error=error))
    user.totp_enabled = not user.totp_enabled
    if not user.totp_enabled:
        user.totp_secret, user.totp_last_step = None, None
    return _see("/portal/account")
