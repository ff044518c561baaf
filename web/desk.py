"""What every page needs: the app's state, the signed-in viewer, units of work, rendering.

Each route opens its own unit of work (`desk.reading` or `desk.writing`), so the caller
owns the transaction as everywhere else; domain functions below never commit.
"""

import html
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import Engine, bindparam
from sqlalchemy.orm import joinedload
from sqlmodel import Session, select
from starlette.datastructures import FormData

from models.accounts import Account
from models.calendar import SHANGHAI, WorkCalendar, load_calendar, local_date
from models.db import transaction
from models.errors import BadInput, ChangedMeanwhile, NotFound, RectifyError, Refused
from models.ledger import DEADLINE_CLASS_LABELS
from models.lights import LIGHT_LABELS, Light
from models.mail import MESSAGE_STATE_LABELS
from models.people import ROLE_LABELS, Person, Role
from models.records import (
    DECISION_LABELS,
    PROGRESS_STATUS_LABELS,
    REQUEST_STATUS_LABELS,
    REVIEW_STATUS_LABELS,
)
from models.settings import Settings
from models.stages import STAGE_LABELS, event_label
from notifications.links import LinkSigner
from web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SignInThrottle,
    csrf_matches,
    new_csrf_token,
)

TEMPLATES = Path(__file__).with_name("templates")

# What the composition root (cli) hands the desk: document writers live in flows/, which
# the desk may not import (DESIGN.md "Layers").
LedgerWriter = Callable[[Session, Path, date], int]


@dataclass
class Desk:
    settings: Settings
    engine: Engine
    reader: Engine  # read-only: pages that only show
    secret: str
    templates: Jinja2Templates
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    writers: dict[str, LedgerWriter] = field(default_factory=dict)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @cached_property
    def links(self) -> LinkSigner:
        return LinkSigner(self.secret)

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """One transaction for one request: committed when the route returns normally."""
        with transaction(self.engine) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction: a page that shows and changes nothing."""
        with transaction(self.reader) as session:
            yield session

    def now(self) -> datetime:
        return self.clock()


_DOCUMENTS: RunVar[CapacityLimiter] = RunVar("rectify_documents")


def documents_thread() -> CapacityLimiter:
    """The thread documents are built in, one at a time: an export of 100,000 tasks takes
    seconds, and in a page's thread it would hold up the pages (Settings.desk_threads).
    One per event loop, as anyio keeps its own default limiter."""
    try:
        return _DOCUMENTS.get()
    except LookupError:
        _DOCUMENTS.set(limiter := CapacityLimiter(1))
        return limiter


def desk_of(request: Request) -> Desk:
    return request.app.state.desk


class NotSignedIn(Exception):
    """The page needs a session; the handler sends the reader to sign in and back."""


class Forbidden(RectifyError):
    """The page exists but is not for this person's roles."""


class CsrfFailed(RectifyError):
    """A form came without the session's CSRF token (stale page, or another site posting)."""


@dataclass(frozen=True)
class Viewer:
    person: Person
    account: Account | None  # None for a reader who came by a mail link: reading only
    link_path: str | None = None  # the task page they are reading that way

    @property
    def id(self) -> int:
        assert self.person.id is not None
        return self.person.id

    def has(self, *roles: Role) -> bool:
        return self.person.has_role(*roles)


MAX_FORM_FILES = 20  # the task page's upload takes at most 10; anything beyond is not ours
MAX_FORM_FIELDS = 100

# What a mail link's reader may open without signing in: task pages, to read.
LINK_PAGES = re.compile(r"/tasks/\d+")


# Every page asks who is signing it, so this statement is built once; the person's roles come
# in the same query. Built per request and with roles loaded by a second (selectin) query it
# cost 0.9-1.2 ms of every page.
SIGNED_IN_PERSON = (
    select(Person, Account)
    .join(Account, Account.person_id == Person.id)
    .where(Person.id == bindparam("person_id"), Person.active)
    .options(joinedload(Person.role_rows))
)


def viewer(request: Request, session: Session) -> Viewer:
    """The signed-in person, or NotSignedIn; an old epoch (password changed) is signed out."""
    data = request.session
    person_id, epoch = data.get("p"), data.get("e")
    if isinstance(person_id, int):
        found = session.exec(SIGNED_IN_PERSON, params={"person_id": person_id})
        row = found.unique().first()
        if row is not None and row[1].session_epoch == epoch:
            return Viewer(row[0], row[1])
        data.clear()
    link = data.get("link")
    if isinstance(link, int) and request.method == "GET" and LINK_PAGES.fullmatch(request.url.path):
        person = session.get(Person, link)
        if person is not None and person.active:
            return Viewer(person, None, link_path=request.url.path)
    raise NotSignedIn


def signed_in(request: Request, session: Session) -> Viewer:
    """A full session (not a mail link's single page)."""
    me = viewer(request, session)
    if me.account is None:
        raise NotSignedIn
    return me


@contextmanager
def reading_as(
    request: Request, roles: frozenset[Role] | None = None, what: str = ""
) -> Iterator[tuple[Session, Viewer]]:
    """A read-only page for someone signed in (holding one of `roles`, when given)."""
    with desk_of(request).reading() as session:
        me = signed_in(request, session)
        if roles is not None:
            require(me, roles, what)
        yield session, me


STATUS = ((NotFound, 404), (Forbidden, 403), (Refused, 403), (CsrfFailed, 403),
          (ChangedMeanwhile, 409), (BadInput, 400))  # fmt: skip


def status_of(error: RectifyError) -> int:
    """The HTTP status that says what kind of refusal this is."""
    return next((code for kind, code in STATUS if isinstance(error, kind)), 400)


def flash(request: Request, message: str) -> None:
    """A one-time notice for the next page this reader sees (after a redirect)."""
    request.session.setdefault("flash", []).append(message)


def require(viewer_: Viewer, roles: frozenset[Role], what: str) -> None:
    if viewer_.account is None or not viewer_.has(*roles):
        needed = "、".join(ROLE_LABELS[r] for r in sorted(roles))
        raise Forbidden(f"{what}仅对{needed}开放")


async def checked_form(request: Request) -> AsyncIterator[FormData]:
    """The posted form, after its CSRF token matched the session's; CsrfFailed otherwise.

    Its uploaded files are closed (their temporary files removed) when the route is done.
    """
    form = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)
    try:
        given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
        if not csrf_matches(request.session.get("csrf"), given if isinstance(given, str) else None):
            raise CsrfFailed("表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")
        yield form
    finally:
        await form.close()


CheckedForm = Annotated[FormData, Depends(checked_form)]


def field_text(form: FormData, name: str, *, limit: int = 5000) -> str:
    """A text field of a form, stripped; BadInput when it is too long to be typed by hand."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > limit:
        raise BadInput(f"“{name}”过长（最多 {limit} 字）")
    if "\x00" in text:  # no database keeps it as text; never a character anyone typed
        raise BadInput(f"“{name}”中含有无效字符（NUL），请重新输入")
    return text


def today_and_calendar(session: Session, now: datetime) -> tuple[date, WorkCalendar]:
    return local_date(now), load_calendar(session)


# --- rendering -------------------------------------------------------------------------------

LIGHT_CLASSES = {Light.RED: "red", Light.YELLOW: "yellow", Light.GREEN: "green",
                 Light.DONE: "done", Light.NONE: "none"}  # fmt: skip


def _date_cn(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        local = value.astimezone(SHANGHAI)
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{value.year}年{value.month}月{value.day}日"


def _options(pairs: Iterable[tuple[Any, str]], chosen: Any = None) -> Markup:
    """The <option>s of a long menu (100 areas, 100 departments, a department's people): one
    join in Python, where a template loop took five times as long on every ledger page."""
    return Markup(
        "".join(
            f'<option value="{html.escape(str(value))}"{" selected" if value == chosen else ""}>'
            f"{html.escape(label, quote=False)}</option>"
            for value, label in pairs
        )
    )


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.auto_reload = False  # templates change with a release, not while serving
    env.globals["options"] = _options
    # The label tables are keyed by StrEnums, which hash as their values: a column's plain
    # string finds its label without building an enum (a page of 50 rows asks 200 times).
    env.filters.update(
        date_cn=_date_cn,
        stage_label=STAGE_LABELS.__getitem__,
        action_label=event_label,
        light_label=LIGHT_LABELS.__getitem__,
        light_class=LIGHT_CLASSES.__getitem__,
        class_label=DEADLINE_CLASS_LABELS.__getitem__,
        role_label=ROLE_LABELS.__getitem__,
        decision_label=DECISION_LABELS.__getitem__,
        progress_label=PROGRESS_STATUS_LABELS.__getitem__,
        review_label=REVIEW_STATUS_LABELS.__getitem__,
        request_label=REQUEST_STATUS_LABELS.__getitem__,
        mail_state_label=MESSAGE_STATE_LABELS.__getitem__,
    )
    return templates


def page(request: Request, name: str, status_code: int = 200, **context: Any):
    """A page with what the layout needs: the viewer, the CSRF token, the nav."""
    session = request.session
    if "csrf" not in session:
        session["csrf"] = new_csrf_token()
    desk = desk_of(request)
    context.setdefault("viewer", None)
    context["flashes"] = session.pop("flash", [])
    context.update(csrf=session["csrf"], mail_captured=desk.settings.smtp_host is None,
                   csrf_field=CSRF_FIELD)  # fmt: skip
    return desk.templates.TemplateResponse(request, name, context, status_code=status_code)
