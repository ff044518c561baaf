"""Messages from templates: a subject, a plain text and an HTML body per kind, in Chinese.

Templates live in notifications/templates/ as `{kind}.subject.txt`, `{kind}.txt` and
`{kind}.html`. HTML is autoescaped, so a name, title or reason containing markup stays text;
subjects are forced onto one line, so nothing a user typed can become a header.

Contexts (StrictUndefined: a missing value is a render error, never an empty string):
- digest: person_name, day (date), items (list of DigestItem), and optionally shared (a
  dict one run passes to all its digests, so identical long item lists render once)
- every event kind: person_name, task (TaskRef), actor_name, and
  - assigned: deadline (None for long-term tasks)
  - rejected: reason
  - approved: —
  - extension_granted: deadline, optionally previous_deadline
  - extension_refused: deadline, reason
  - lookback_assigned: due (the date the review is due)
  - rebound: finding, deadline
- dispatch_request, dispatch_chaser: person_name, round_title, due (date), items (list of
  DispatchItem); the chaser also day (the working day of the round)
- dispatch_escalation: person_name, round_title, due, items (with officer)
- dispatch_report: person_name, round_title, number, summary (models.dispatch.snapshot),
  charts (content ids of inline images), charts_missing (why there are none, or None),
  sheet (the attached 调度表's file name)
"""

import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    pass_context,
    select_autoescape,
)
from markupsafe import Markup

from models.lights import LIGHT_LABELS, Light
from models.settings import DEFAULT_BASE_URL
from notifications.links import task_url

TEMPLATES = Path(__file__).with_name("templates")
SUBJECT_MAX = 200  # characters; the outbox column holds 300

KIND_LABELS: dict[str, str] = {
    "digest": "整改提醒",
    "assigned": "任务交办",
    "rejected": "销号退回",
    "approved": "已销号",
    "extension_granted": "延期已批准",
    "extension_refused": "延期未批准",
    "lookback_assigned": "回头看",
    "rebound": "问题反弹",
    "dispatch_request": "整改调度",
    "dispatch_chaser": "调度催报",
    "dispatch_escalation": "调度督办",
    "dispatch_report": "调度报告",
}
KINDS = tuple(KIND_LABELS)

LIGHT_COLORS = {Light.RED: "#d93025", Light.YELLOW: "#f9ab00", Light.GREEN: "#188038"}


@dataclass(frozen=True)
class TaskRef:
    """What a message says about a task: its id (for the link), number and title."""

    id: int
    title: str
    number: str | None = None  # e.g. "2.3": area 2, task 3


@dataclass(frozen=True)
class DigestItem:
    """One line of a digest."""

    task: TaskRef
    light: str  # a models.lights.Light value
    deadline: date | None
    days_left: int | None  # working days until the deadline; negative when overdue
    role: str | None = None  # why this person is told: 责任人, 责任领导, 领导小组, 回头看人员
    lookback: bool = False  # the deadline is a look-back's due day, not the task's

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


@dataclass(frozen=True)
class DispatchItem:
    """One task of a dispatch round in a message: what is asked about, and who answers."""

    task: TaskRef
    deadline: date | None  # None for long-term tasks
    officer: str | None = None  # named in escalations to the leader
    department: str | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class RenderError(Exception):
    """A message could not be rendered; the outbox records it as that message's failure."""


# --- cleaning what users typed ------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def one_line(value: object) -> str:
    """Text fit for a header: line breaks, control and format characters become spaces."""
    text = "" if value is None else str(value)
    if text.isprintable():  # no Cc, Cf, Zl or Zp in it (the usual title): skip the scan
        return _SPACES.sub(" ", text).strip()
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    return _SPACES.sub(" ", cleaned).strip()


# Control characters (Unicode category Cc) except tab and newline, and the line/paragraph
# separators: one regex pass, since bodies can be megabytes (a leadership digest).
_BODY_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def clean_body(text: str) -> str:
    """A body with \\n line ends and no control characters other than tab and newline."""
    if "\r" in text:  # the scans are cheap; the copies are not, for megabytes
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _BODY_CONTROLS.search(text):
        text = _BODY_CONTROLS.sub("", text)
    return text


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- filters ---------------------------------------------------------------------------


def _date_cn(value: date | None) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if value else "未定"


def _deadline_cn(value: date | None) -> str:
    return _date_cn(value) if value else "长期坚持"


def _days_text(days_left: int | None) -> str:
    if days_left is None:
        return "按期报送进展"
    if days_left < 0:
        return f"已逾期 {-days_left} 个工作日"
    if days_left == 0:
        return "今日到期"
    return f"剩余 {days_left} 个工作日"


def _task_label(task: Any, limit: int | None = None) -> str:
    title = one_line(task.title)
    if limit:
        title = shorten(title, limit)
    return f"{task.number} {title}" if task.number else title


_LABEL_OF_LIGHT = {light.value: label for light, label in LIGHT_LABELS.items()}
_COLOR_OF_LIGHT = {light.value: color for light, color in LIGHT_COLORS.items()}


def _light_label(value: str) -> str:
    label = _LABEL_OF_LIGHT.get(value)
    return label if label is not None else one_line(value)


def _light_color(value: str) -> str:
    return _COLOR_OF_LIGHT.get(value, "#6a737d")


@pass_context
def _task_url(context: Any, task: Any) -> str:
    return task_url(context["base_url"], task.id, token=context.get("link_token"))


# Stands for the reader's token in a list rendered once for several readers; random per
# process, so no title or name a user typed can contain it.
_TOKEN_SLOT = f"token-{secrets.token_hex(16)}"


SHARED_LIST_MIN_ITEMS = 50  # shorter lists are rendered every time: cheaper than the lookup


@pass_context
def _item_list(context: Any, form: str) -> str:
    """A digest's items as `digest_items.{form}` renders them.

    A run that tells many people about the same long list (every member of the leadership
    group gets the same escalations) passes one dict as `shared` to every digest, and each
    such list is rendered once for the run.
    """
    items, base_url = context["items"], context["base_url"]
    token = context.get("link_token")
    template = _template(f"digest_items.{form}")
    shared = context.get("shared")
    if shared is None or len(items) < SHARED_LIST_MIN_ITEMS:
        rendered = template.render(items=items, base_url=base_url, link_token=token)
    else:
        key = (form, base_url, bool(token), tuple(items))
        rendered = shared.get(key)
        if rendered is None:
            slot = _TOKEN_SLOT if token else None
            rendered = shared[key] = template.render(
                items=items, base_url=base_url, link_token=slot
            )
        if token:
            rendered = rendered.replace(_TOKEN_SLOT, token)
    return Markup(rendered) if form == "html" else rendered  # the HTML template escaped it


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates ship with the code: no stat() per message
    )
    env.globals["item_list"] = _item_list
    env.filters.update(
        one_line=one_line,
        date_cn=_date_cn,
        deadline_cn=_deadline_cn,
        days_text=_days_text,
        task_label=_task_label,
        light_label=_light_label,
        light_color=_light_color,
        task_url=_task_url,
    )
    return env


_ENV = _environment()


@cache
def _template(name: str) -> Template:
    """Templates ship with the code and never change while it runs: looked up once."""
    return _ENV.get_template(name)


# --- rendering ---------------------------------------------------------------------------


def render(kind: str, context: Mapping[str, Any], *, base_url: str = DEFAULT_BASE_URL) -> Rendered:
    """Subject, text and HTML of one message; RenderError when that is impossible."""
    if kind not in KIND_LABELS:
        raise RenderError(f"未知的邮件类型：{kind}")
    values = {**context, "base_url": base_url}
    try:
        if kind == "digest":
            values["overdue"] = sum(1 for item in values["items"] if item.overdue)
        subject = _template(f"{kind}.subject.txt").render(values)
        subject = shorten(one_line(subject), SUBJECT_MAX)
        text = _template(f"{kind}.txt").render(values)
        html = _template(f"{kind}.html").render({**values, "subject": subject})
    except (TemplateError, AttributeError, TypeError, ValueError, KeyError) as error:
        raise RenderError(f"邮件模板 {kind} 渲染失败：{type(error).__name__}: {error}") from error
    if not subject:
        raise RenderError(f"邮件模板 {kind} 生成的主题为空")
    return Rendered(subject=subject, text=_tidy(clean_body(text)), html=clean_body(html))


def _tidy(text: str) -> str:
    """At most one blank line in a row, and one newline at the end."""
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
