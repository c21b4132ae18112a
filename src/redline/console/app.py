"""`Console`: the reviewers' web UI as one Starlette app, mounted by `redline serve` under `/console`.

This module owns the wiring: routes, who may call which (login required everywhere but the login
page and the static assets; roles per page and per action), CSRF on every POST, cookies, security
headers, and template rendering (Jinja2, autoescaped). What each page shows and does is in
`redline.console.views`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from redline.console.accounts import Role, User, UserStore
from redline.console.audit import Audit
from redline.console.ratelimit import LoginLimiter
from redline.console.sessions import MAX_AGE_S, Session, SessionStore

PREFIX = "/console"
COOKIE = "redline_console"
LOGIN_COOKIE = "redline_console_login"
MAX_FORM_BYTES = 256 * 1024
HERE = Path(__file__).parent
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"
)
ALL_ROLES: tuple[Role, ...] = ("reviewer", "approver", "auditor", "admin")


@dataclass(frozen=True)
class Caller:
    """The logged-in user of one request, with their session (for the CSRF token)."""

    user: User
    session: Session


Handler = Callable[[Request, Caller], Awaitable[Response]]


class ForbiddenError(Exception):
    """The caller's role (or tenant binding) does not allow this."""


class BadRequestError(Exception):
    """A request the console cannot act on; the message is shown to the user."""


class Shell:
    """Sessions, login, guards and rendering: what every page needs, whatever it shows."""

    def __init__(self, users: UserStore, sessions: SessionStore, audit: Audit, limiter: LoginLimiter | None = None) -> None:
        self.users = users
        self.sessions = sessions
        self.audit = audit
        self.limiter = limiter or LoginLimiter()
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True, default_for_string=True)
        )
        self.nav: list[tuple[str, str, Collection[Role]]] = []

    # -- rendering -------------------------------------------------------------------------------

    async def render(self, request: Request, template: str, caller: Caller | None, status: int = 200, **context: Any) -> Response:
        """Render in a worker thread: the gateway's requests share this event loop."""
        nav = [(path, label) for path, label, roles in self.nav if caller is not None and caller.user.role in roles]
        html = await asyncio.to_thread(
            self.templates.get_template(template).render,
            base=PREFIX,
            caller=caller,
            nav=nav,
            path=request.url.path,
            csrf=caller.session.csrf if caller else "",
            **context,
        )
        return self.headers(HTMLResponse(html, status))

    @staticmethod
    def headers(response: Response) -> Response:
        response.headers["content-security-policy"] = CSP
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"
        response.headers["x-frame-options"] = "DENY"
        response.headers["cache-control"] = "no-store"
        return response

    # -- guards ----------------------------------------------------------------------------------

    def _caller(self, request: Request) -> Caller | None:
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            return None
        user = self.users.get(session.username)
        if user is None or not user.active:
            return None
        return Caller(user, session)

    def page(
        self, handler: Handler, roles: Collection[Role] = ALL_ROLES, post_roles: Collection[Role] | None = None
    ) -> Callable[[Request], Awaitable[Response]]:
        """A route that needs a session; GET for `roles`, POST (with a valid CSRF token) for `post_roles`."""
        post_roles = roles if post_roles is None else post_roles

        async def endpoint(request: Request) -> Response:
            caller = await asyncio.to_thread(self._caller, request)
            if caller is None:
                if request.method == "GET":
                    return self.headers(RedirectResponse(f"{PREFIX}/login", 303))
                return self.headers(Response("login required", 401, media_type="text/plain"))
            allowed = post_roles if request.method == "POST" else roles
            try:
                if caller.user.role not in allowed:
                    raise ForbiddenError(f"the {caller.user.role} role cannot do this")
                if request.method == "POST":
                    form = await self.form(request)
                    if not caller.session.csrf_ok(_field(form, "csrf")):
                        return await self.render(
                            request,
                            "error.html",
                            caller,
                            403,
                            message="The form expired or did not come from this console (CSRF check failed). Reload the page and try again.",
                        )
                    request.state.form = form
                return await handler(request, caller)
            except ForbiddenError as e:
                return await self.render(request, "error.html", caller, 403, message=f"Not allowed: {e}.")
            except BadRequestError as e:
                return await self.render(request, "error.html", caller, 400, message=str(e))

        return endpoint

    @staticmethod
    async def form(request: Request) -> FormData:
        declared = request.headers.get("content-length", "")
        # Browsers always declare a form's length; without one the body could be any size.
        if not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
            raise BadRequestError("the form is too large or has no declared length")
        return await request.form(max_files=0, max_fields=50)

    # -- login / logout --------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if await asyncio.to_thread(self._caller, request) is not None:
            return self.headers(RedirectResponse(f"{PREFIX}/", 303))
        return await self._login_form(request)

    async def _login_form(self, request: Request, status: int = 200, error: str = "") -> Response:
        token = secrets.token_urlsafe(24)
        response = await self.render(request, "login.html", None, status, login_token=token, error=error)
        self._cookie(request, response, LOGIN_COOKIE, token, 600)
        return response

    async def login(self, request: Request) -> Response:
        try:
            form = await self.form(request)
        except BadRequestError:
            return await self._login_form(request, 400, "The form is too large.")
        sent, expected = _field(form, "login_token"), request.cookies.get(LOGIN_COOKIE)
        if not sent or not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
            return await self._login_form(request, 403, "The login form expired. Try again.")
        name, password = (_field(form, "username") or "").strip()[:128], _field(form, "password") or ""
        address = request.client.host if request.client else "unknown"
        known = await asyncio.to_thread(self.users.get, name) is not None
        wait = self.limiter.retry_after(name, address)
        if wait > 0:
            await self.audit.record("login_throttled", name if known else None, None)
            return await self._login_form(request, 429, f"Too many failed logins. Try again in {int(wait // 60) + 1} minute(s).")
        user = await asyncio.to_thread(self.users.authenticate, name, password)  # scrypt: ~0.3 s of CPU
        if user is None:
            self.limiter.failed(name, address)
            await self.audit.record("login_failed", name if known else None, None)
            return await self._login_form(request, 401, "Wrong user name or password, or the account is disabled.")
        self.limiter.succeeded(name, address)
        token, _ = await asyncio.to_thread(self.sessions.start, user.name)
        await self.audit.record("login", user.name, user.role, user.tenant)
        response = self.headers(RedirectResponse(f"{PREFIX}/", 303))
        self._cookie(request, response, COOKIE, token, MAX_AGE_S)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    async def logout(self, request: Request, caller: Caller) -> Response:
        await asyncio.to_thread(self.sessions.end, request.cookies.get(COOKIE))
        await self.audit.record("logout", caller.user.name, caller.user.role, caller.user.tenant)
        response = self.headers(RedirectResponse(f"{PREFIX}/login", 303))
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    @staticmethod
    def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", 404, media_type="text/plain")
        response = Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name])
        response.headers["x-content-type-options"] = "nosniff"
        return response

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.page(self.logout), methods=["POST"]),
            Route("/static/{name}", self.static, methods=["GET"]),
        ]

    def app(self, routes: list[Route]) -> Starlette:
        async def not_found(request: Request, exc: Exception) -> Response:
            return self.headers(Response("not found", 404, media_type="text/plain"))

        return Starlette(routes=[*self.routes(), *routes], exception_handlers={404: not_found, 405: not_found})


def _field(form: FormData | Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


field = _field
