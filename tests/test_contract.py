"""The contract between desktop and server (#16).

1. Every method+path the desktop calls exists on the server's app. The calls are read from
   crm_desktop's source with `ast` (wherever they live: views/ today, crm_desktop/api/<area>.py as
   they move there), so a route renamed on one side and not the other fails here, naming the call.
2. The typed client functions (crm_desktop/api/*.py) get real answers from the real server over
   HTTP and return the contract models they promise, without a validation error.
3. The server says its version and API level on a public route, declared in OpenAPI.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import pkgutil
import re
import textwrap
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pydantic
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Route, WebSocketRoute

import crm_desktop
import crm_desktop.api
from crm_desktop.api import auth, version
from crm_desktop.api.client import ApiClient, ApiError
from crm_server.app import create_app
from crm_server.config import Config
from crm_server.contract.auth import Me
from crm_server.contract.common import API_LEVEL, ServerVersion
from tests.support import ADMIN_EMAIL, OPENAPI_SECONDS, PASSWORD, LiveServer

DESKTOP = Path(crm_desktop.__file__).parent
ROOT = DESKTOP.parent
# Paths that name a server route (anything else the desktop fetches is not the CRM server's).
PREFIXES = ("/api/", "/health")
VERBS = {"get": "GET", "post": "POST", "patch": "PATCH", "put": "PUT", "delete": "DELETE"}
PARAM = "{param}"


# --- reading the desktop's calls -------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    where: str  # file:line
    method: str  # "*": the source does not say which
    path: str  # a template: every f-string placeholder is {param}
    written: bool = False  # a path written down outside a call (a constant, a returned path...)

    def __str__(self) -> str:
        return f"{self.where}: {'path' if self.written else self.method} {self.path}"


def _literal(node: ast.expr | None, names: dict[str, list[str]]) -> list[str] | None:
    """The texts of `Literal["a", "b"]` (or of a name bound to one), else None."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name | ast.Attribute)
        and (node.value.id if isinstance(node.value, ast.Name) else node.value.attr) == "Literal"
    ):
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        texts = [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
        return texts if len(texts) == len(items) else None
    return None


def _constants(tree: ast.Module) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Module-level names bound to a string (`BASE = "/api/leads"`), usable in later f-strings,
    and names bound to a `Literal[...]` of strings (`Kind = Literal["lost-reasons", "lead-sources"]`)."""
    found: dict[str, list[str]] = {}
    literals: dict[str, list[str]] = {}
    for node in tree.body:
        target: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if isinstance(target, ast.Name):
            options = _templates(value, found)
            if options is not None:
                found[target.id] = options
            texts = _literal(value, literals)
            if texts is not None:
                literals[target.id] = texts
    return found, literals


def _templates(node: ast.expr, constants: dict[str, list[str]]) -> list[str] | None:
    """The path templates an expression can be (several for `{'a' if x else 'b'}`), or None
    when it is not built from text the source spells out."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.JoinedStr):
        parts: list[list[str]] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                parts.append(_placeholder(value.value, constants))
            else:
                parts.append(_templates(value, constants) or [""])
        return ["".join(p) for p in itertools.product(*parts)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = _templates(node.left, constants)
        if left is None:
            return None
        right = _placeholder(node.right, constants)
        return [a + b for a, b in itertools.product(left, right)]
    return None


def _placeholder(node: ast.expr, constants: dict[str, list[str]]) -> list[str]:
    """What an f-string's `{...}` contributes: a known text, the branches of a conditional, else {param}."""
    if isinstance(node, ast.IfExp):
        return _placeholder(node.body, constants) + _placeholder(node.orelse, constants)
    known = _templates(node, constants)
    return known if known is not None else [PARAM]


def _path_argument(call: ast.Call, index: int) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == "path"), None)


def desktop_calls(source: str, filename: str) -> list[Call]:
    """Every server call in one module's source: `x.get/post/patch/put/delete(path, ...)`,
    `x.request("METHOD", path, ...)` and a bare `request("METHOD", path, ...)`. A placeholder is
    read as its text where the source says it: a module constant, the branches of `a if c else b`,
    a parameter annotated with a `Literal` of strings, a local bound only to such texts. A path
    written down anywhere else (a class's PATH, a function returning one) is read too: it must name
    a route, or begin one."""
    tree = ast.parse(source, filename)
    constants, literals = _constants(tree)
    calls: list[Call] = []

    consumed: set[int] = set()  # the nodes a call's path was read from

    def visit(node: ast.AST, known: dict[str, list[str]]) -> None:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # a docstring
        if isinstance(node, ast.Constant | ast.JoinedStr) and id(node) not in consumed:
            for path in _templates(node, known) or []:
                if path.startswith(PREFIXES):
                    calls.append(Call(f"{filename}:{node.lineno}", "*", path.split("?", 1)[0], written=True))
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            known = dict(known)
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                texts = _literal(arg.annotation, literals)
                if texts is not None:
                    known[arg.arg] = texts
                else:
                    known.pop(arg.arg, None)  # a parameter hides a module constant of its name
            if not isinstance(node, ast.Lambda):
                spelled = _locals(node, known)
                for name in _rebound(node) - spelled.keys():
                    known.pop(name, None)  # a local of another value hides a module constant of its name
                known.update(spelled)
        elif isinstance(node, ast.Call):
            found, path_node = _read_call(node, known, filename)
            if found and path_node is not None:
                consumed.update(id(n) for n in ast.walk(path_node))
            calls.extend(found)
        for child in ast.iter_child_nodes(node):
            visit(child, known)

    visit(tree, constants)
    return calls


def _own_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of the functions defined inside it."""
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            pending.extend(ast.iter_child_nodes(node))


def _rebound(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Every name the function binds (assignments, loops, with, :=)."""
    return {node.id for node in _own_nodes(function) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def _locals(function: ast.FunctionDef | ast.AsyncFunctionDef, known: dict[str, list[str]]) -> dict[str, list[str]]:
    """Local names whose every binding is text the source spells out: `verb = "archive" if a else
    "restore"` makes `f"/api/clients/{id}/{verb}"` two calls. A name also bound another way (a loop,
    a with, a tuple, :=) or to anything else is not known."""
    options: dict[str, list[str]] = {}
    unknown: set[str] = set()
    simple: set[int] = set()  # the Name nodes that are a whole assignment's target
    for node in _own_nodes(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        simple.add(id(target))
        branches = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
        texts = [_templates(branch, known) for branch in branches]
        if any(t is None for t in texts):
            unknown.add(target.id)
        else:
            options.setdefault(target.id, []).extend(x for t in texts for x in t or [])
    for node in _own_nodes(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and id(node) not in simple:
            unknown.add(node.id)
    return {name: texts for name, texts in options.items() if name not in unknown}


def _read_call(node: ast.Call, known: dict[str, list[str]], filename: str) -> tuple[list[Call], ast.expr | None]:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name in VERBS and isinstance(func, ast.Attribute):
        methods, path_node = [VERBS[name]], _path_argument(node, 0)
    elif name == "request":
        verb = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "method"), None)
        verbs = _templates(verb, known) if verb is not None else None
        # A method the source does not spell out: the path must exist under some method.
        methods, path_node = [v.upper() for v in verbs] if verbs else ["*"], _path_argument(node, 1)
    else:
        return [], None
    paths = _argument(path_node, known) if path_node is not None else None
    calls = []
    for method, path in itertools.product(methods, paths or []):
        path = path.split("?", 1)[0]
        if path.startswith(PREFIXES):
            calls.append(Call(f"{filename}:{node.lineno}", method, path))
    return calls, path_node


def _argument(node: ast.expr, known: dict[str, list[str]]) -> list[str] | None:
    """A path argument's templates; `"/api/a" if c else "/api/b"` is both."""
    if isinstance(node, ast.IfExp):
        both = [_argument(node.body, known), _argument(node.orelse, known)]
        return None if None in both else [t for branch in both for t in branch or []]
    return _templates(node, known)


def all_desktop_calls() -> list[Call]:
    calls: list[Call] = []
    for file in sorted(DESKTOP.rglob("*.py")):
        calls.extend(desktop_calls(file.read_text(encoding="utf-8"), str(file.relative_to(ROOT))))
    return calls


# --- matching them against the server's routes -------------------------------------------------------


def _server_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every HTTP route, through included routers."""
    for route in routes:
        if isinstance(route, APIRoute | Route):
            for method in (route.methods or set()) - {"HEAD", "OPTIONS"}:
                yield method, prefix + route.path
        elif isinstance(route, WebSocketRoute | APIWebSocketRoute):
            yield "WEBSOCKET", prefix + route.path
        elif hasattr(route, "original_router"):
            yield from _server_routes(route.original_router.routes, prefix + (route.include_context.prefix or ""))
        elif hasattr(route, "routes"):
            yield from _server_routes(route.routes, prefix + getattr(route, "path", ""))


def server_routes() -> set[tuple[str, str]]:
    app = create_app(Config(database_url="postgresql://unused/unused"))  # routes only: nothing connects
    return set(_server_routes(app.routes))


def _segment_matches(desktop: str, server: str) -> bool:
    if server.startswith("{") and server.endswith("}"):
        return True  # a path parameter takes any one segment (its name does not matter)
    pattern = "".join("[^/]+" if part == PARAM else re.escape(part) for part in re.split(r"(\{param\})", desktop))
    return re.fullmatch(pattern, server) is not None


def path_matches(desktop: str, server: str) -> bool:
    mine, theirs = desktop.rstrip("/").split("/"), server.rstrip("/").split("/")
    for i, segment in enumerate(theirs):
        if re.fullmatch(r"\{\w+:path\}", segment):  # {name:path} takes the rest
            return len(mine) > i and all(_segment_matches(m, s) for m, s in zip(mine[:i], theirs[:i], strict=True))
    return len(mine) == len(theirs) and all(_segment_matches(m, s) for m, s in zip(mine, theirs, strict=True))


def begins(desktop: str, server: str) -> bool:
    """Is the desktop's path the server path or its beginning (`BASE = "/api/integrations"`)?"""
    mine, theirs = desktop.rstrip("/").split("/"), server.rstrip("/").split("/")
    return len(mine) <= len(theirs) and all(_segment_matches(m, s) for m, s in zip(mine, theirs, strict=False))


def unmatched(calls: list[Call], routes: set[tuple[str, str]]) -> list[Call]:
    def found(call: Call) -> bool:
        if call.written:
            return any(path_matches(call.path, path) or begins(call.path, path) for _, path in routes)
        return any(call.method in ("*", method) and path_matches(call.path, path) for method, path in routes)

    return [call for call in calls if not found(call)]


# --- 1. the desktop calls only routes the server has --------------------------------------------------


def test_every_route_the_desktop_calls_exists_on_the_server() -> None:
    calls = all_desktop_calls()
    # The reading is only worth something if it sees the desktop's calls, wherever they live now.
    assert len(calls) > 100, f"only {len(calls)} server calls found in crm_desktop: did the reading break?"
    assert {c.path for c in calls} >= {"/api/auth/login", "/api/auth/me", "/api/version"}
    missing = unmatched(calls, server_routes())
    assert not missing, "The desktop calls routes the server does not have:\n" + "\n".join(map(str, missing))


SNIPPET = textwrap.dedent(
    """
    from typing import Literal

    LEADS = "/api/leads"
    Kind = Literal["lost-reasons", "lead-sources"]
    Typo = Literal["lost-reasons", "lead-source"]

    async def work(api, lead_id, kind: Kind, typo: Typo, other):
        await api.get("/api/leads", offset=0)                                  # fine
        await api.patch(f"/api/leads/{lead_id}", {"a": 1})                     # fine
        await api.get(f"{LEADS}/{lead_id}/timeline?limit=5")                   # fine: a constant, a query
        await api.request("GET", f"/api/{'clients' if other else 'leads'}/{lead_id}")  # fine, both
        await api.post(f"/api/{kind}", {})                                     # fine, both
        await api.post(f"/api/lead/{lead_id}/archive")                         # wrong: "lead"
        await api.delete("/api/auth/me")                                       # wrong: no DELETE there
        await api.request("PUT", LEADS + "/" + str(lead_id) + "/nope")         # wrong: no such route
        await api.get(f"/api/{'clients' if other else 'laeds'}/{lead_id}")     # wrong: one branch
        await request("PATCH", "/api/no-such-thing")                           # wrong
        await api.get(f"/api/{typo}")                                          # wrong: one of the two
        await api.get(some_path)                                               # not read: not spelled out
        settings.get("theme")                                                  # not a server call

    async def hidden(api, LEADS):
        await api.get(f"{LEADS}/x")                                            # not read: LEADS is a parameter

    async def verbs(api, lead_id, archived, paths):
        verb = "archive" if archived else "restor"
        await api.post(f"/api/leads/{lead_id}/{verb}")                         # wrong: one of the two
        path = "/api/pipelines"
        await api.get(path)                                                    # fine
        for LEADS in paths:
            await api.get(f"{LEADS}/y")                                        # not read: LEADS is rebound

    class Categories:
        PATH = "/api/ticket-categories"                                        # fine: a path written down
        BASE = "/api/stock"                                                    # fine: where routes begin

    def timeline_path(ticket_id):
        '''/api/nothing: a docstring is not read'''
        return f"/api/tickets/{ticket_id}/timelines"                           # wrong: "timelines"

    async def choose(api, other):
        await api.get("/api/clients" if other else "/api/lead", q=1)           # wrong: one branch
        await api.get(f"/api/leads/{other}" "/timeline")                       # fine: implicit concatenation
    """
)


def test_the_contract_check_names_each_call_the_server_lacks() -> None:
    calls = desktop_calls(SNIPPET, "snippet.py")
    assert len(calls) == 26, "\n".join(map(str, calls))
    missing = [str(c) for c in unmatched(calls, server_routes())]
    assert missing == [
        "snippet.py:14: POST /api/lead/{param}/archive",
        "snippet.py:15: DELETE /api/auth/me",
        "snippet.py:16: PUT /api/leads/{param}/nope",
        "snippet.py:17: GET /api/laeds/{param}",
        "snippet.py:18: PATCH /api/no-such-thing",
        "snippet.py:19: GET /api/lead-source",
        "snippet.py:28: POST /api/leads/{param}/restor",
        "snippet.py:40: path /api/tickets/{param}/timelines",
        "snippet.py:43: GET /api/lead",
    ]


def test_path_templates_match_whatever_the_parameters_are_called() -> None:
    assert path_matches("/api/leads/{param}", "/api/leads/{lead_id}")
    assert path_matches("/api/leads/{param}.pdf", "/api/leads/{lead_id}")
    assert path_matches("/api/files/a/b/c", "/api/files/{rest:path}")
    assert not path_matches("/api/leads/{param}/x", "/api/leads/{lead_id}")
    assert not path_matches("/api/leads", "/api/leads/{lead_id}")
    assert not path_matches("/api/clients/{param}", "/api/leads/{lead_id}")


# --- 2. typed calls return what they promise, from real answers ------------------------------------


def _api_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(crm_desktop.api.__path__, "crm_desktop.api."))


def _untyped(kind: Any) -> bool:
    """Does the annotation leave the answer unread (Any, a dict, no annotation)? Models, lists of
    them, Page[X], X | None and plain values (int, str...) are typed."""
    if kind is Any or kind is dict or typing.get_origin(kind) is dict or kind is None:
        return True
    return any(_untyped(arg) for arg in typing.get_args(kind))


def typed_calls_taking_only_the_client() -> list[tuple[str, Callable[..., Any], Any]]:
    """Every `async def f(api: ApiClient, <only defaulted params>) -> <model>` in crm_desktop/api."""
    found: list[tuple[str, Callable[..., Any], Any]] = []
    for name in _api_modules():
        module = importlib.import_module(name)
        for fname, fn in inspect.getmembers(module, inspect.iscoroutinefunction):
            if fn.__module__ != name or fname.startswith("_"):
                continue
            hints = typing.get_type_hints(fn)
            params = list(inspect.signature(fn).parameters.values())
            if not params or hints.get(params[0].name) is not ApiClient:
                continue
            if any(p.default is inspect.Parameter.empty for p in params[1:]):
                continue
            returns = hints.get("return", Any)
            if returns is type(None):
                continue  # nothing to check (logout, ...)
            found.append((f"{name}.{fname}", fn, returns))
    return found


async def check_typed_calls(
    api: ApiClient, found: list[tuple[str, Callable[..., Any], Any]]
) -> tuple[list[str], list[str]]:
    """Call each; (problems, names of those whose answer was checked)."""
    problems: list[str] = []
    checked: list[str] = []
    for name, fn, returns in found:
        if _untyped(returns):
            problems.append(f"{name}: returns {returns!r}: read the answer into a contract model")
            continue
        try:
            result = await fn(api)
        except pydantic.ValidationError as error:
            problems.append(f"{name}: the server's answer does not fit the model: {error}")
            continue
        except ApiError as error:
            if error.status != 409:  # 409: refused on purpose (not configured, ...), not the contract's business
                problems.append(f"{name}: the server answered {error.status} {error.code}: {error.message}")
            continue
        try:
            pydantic.TypeAdapter(returns).validate_python(result, strict=True)
        except pydantic.ValidationError as error:
            problems.append(f"{name}: returned {type(result).__name__}, not {returns!r}: {error}")
            continue
        checked.append(name)
    return problems, checked


async def test_typed_calls_validate_real_answers_with_the_contract_models(server: LiveServer) -> None:
    await server.create_user(ADMIN_EMAIL, role="Admin", full_name="Ada Admin")
    found = typed_calls_taking_only_the_client()
    names = {name for name, _, _ in found}
    assert {"crm_desktop.api.auth.me", "crm_desktop.api.version.server_version"} <= names, names
    api = ApiClient(server.base_url)
    try:
        await auth.login(api, ADMIN_EMAIL, PASSWORD)
        problems, checked = await check_typed_calls(api, found)
    finally:
        await api.close()
    assert not problems, "\n".join(problems)
    assert len(checked) >= 3, f"only {checked} answered: the check saw too little"


async def test_the_typed_call_check_names_each_wrong_answer(server: LiveServer) -> None:
    async def misread(api: ApiClient) -> Me:  # the answer is a ServerVersion, read as Me
        return Me.model_validate(await api.get("/api/version"))

    async def mistyped(api: ApiClient) -> Me:  # promises Me, returns another model
        return await version.server_version(api)  # type: ignore[return-value]

    async def untyped(api: ApiClient) -> dict[str, Any]:
        return dict(await api.get("/api/version"))

    async def gone(api: ApiClient) -> ServerVersion:
        return ServerVersion.model_validate(await api.get("/api/versions"))

    found = [(f.__name__, f, typing.get_type_hints(f)["return"]) for f in (misread, mistyped, untyped, gone)]
    found.append(("server_version", version.server_version, ServerVersion))
    api = ApiClient(server.base_url)
    try:
        problems, checked = await check_typed_calls(api, found)
    finally:
        await api.close()
    assert checked == ["server_version"]
    assert [p.split(":")[0] for p in problems] == ["misread", "mistyped", "untyped", "gone"], problems
    assert "does not fit the model" in problems[0] and "404" in problems[3]


# --- 3. the server says its version -----------------------------------------------------------------


async def test_the_server_says_its_version_and_api_level_without_a_session(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        answer = await anonymous.get("/api/version")
        spec = (await anonymous.get("/openapi.json", timeout=OPENAPI_SECONDS)).json()
    assert answer.status_code == 200, answer.text
    said = ServerVersion.model_validate(answer.json())
    assert said.api_level == API_LEVEL and said.version == metadata.version("crm")
    operation = spec["paths"]["/api/version"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ServerVersion")
