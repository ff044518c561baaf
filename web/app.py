"""The web desk: `create_app(settings)` builds the FastAPI app that `rectify run` serves."""

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from urllib.parse import quote

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.db import checkpoints_in_background, make_engine
from models.errors import RectifyError
from models.settings import Settings
from notifications.links import load_secret
from web import routes_auth, routes_ledger, routes_misc, routes_queues, routes_tasks
from web.desk import (
    TEMPLATES,
    Desk,
    LedgerWriter,
    NotSignedIn,
    make_templates,
    page,
    status_of,
)

TASK_ACTION = re.compile(r"(/tasks/\d+)/")
SESSION_MAX_AGE = 12 * 3600  # a working day; signing in again is cheap


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
        b"script-src 'self'; frame-ancestors 'self'; form-action 'self'",
    ),
]


class SecurityHeaders:
    """Adds the headers every page needs unless the route set its own (an image preview sets
    a stricter policy). Plain ASGI: a BaseHTTPMiddleware costs a task and a stream per
    request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


@asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[None]:
    """Pages in a few threads (Settings.desk_threads); documents have their own
    (web.desk.documents_thread); SQLite's log checkpointed in the background.

    Python runs one thread at a time, so twenty pages in twenty threads only take turns,
    and the turns cost: 40-80 % more CPU per page under load than two at a time.
    """
    desk: Desk = app.state.desk
    anyio.to_thread.current_default_thread_limiter().total_tokens = desk.settings.desk_threads
    with checkpoints_in_background(desk.engine):
        yield


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    writers: dict[str, LedgerWriter] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The desk on this data folder and database; `writers` are the ledger exports."""
    app = FastAPI(
        title="Rectify 整改工作平台", docs_url=None, redoc_url=None, openapi_url=None,
        lifespan=_serving,
    )  # fmt: skip
    engine = engine or make_engine(settings.db_url)
    desk = Desk(
        settings=settings,
        engine=engine,
        reader=make_engine(engine.url.render_as_string(hide_password=False), read_only=True),
        secret=load_secret(settings.home),
        templates=make_templates(),
        writers=writers or {},
    )
    if clock is not None:
        desk.clock = clock
    app.state.desk = desk
    app.add_middleware(
        SessionMiddleware,
        secret_key=desk.secret,
        session_cookie="rectify_session",
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
    )

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(NotSignedIn)
    async def _sign_in_first(request: Request, _exc: NotSignedIn):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":  # after signing in, come back to the page, not the post
            page_of = TASK_ACTION.match(request.url.path)
            target = page_of.group(1) if page_of else "/my"
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(RectifyError)
    async def _refused(request: Request, exc: RectifyError):
        return page(request, "error.html", status_code=status_of(exc), message=str(exc))

    app.mount("/static", StaticFiles(directory=str(TEMPLATES.with_name("static"))), "static")
    for module in (routes_auth, routes_tasks, routes_queues, routes_ledger, routes_misc):
        app.include_router(module.router)
    return app
