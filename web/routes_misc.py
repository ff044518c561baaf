"""The captured mail (embedded default only) and each person's calendar feed of deadlines."""

import re
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from icalendar import Calendar, Event
from sqlmodel import Session, select

from models.access import MAIL_READERS, own_tasks, relation_params
from models.accounts import Account
from models.errors import NotFound
from models.ledger import Area, DeadlineClass, Task
from models.mail import OutboxBody, OutboxMessage
from models.people import Person
from models.records import LookbackReview, ReviewStatus
from models.stages import OPEN_STAGES
from web.desk import Viewer, desk_of, page, reading_as

router = APIRouter()
MAIL_PAGE = 200
FEED_KEY = re.compile(r"[A-Za-z0-9_\-]{20,64}")  # what secrets.token_urlsafe makes


def _captured_only(request: Request) -> None:
    if desk_of(request).settings.smtp_host is not None:
        raise NotFound("已配置邮件服务器：邮件不在本机保存，请在邮箱中查看")


def _mail_query(me: Viewer):
    query = select(OutboxMessage)
    if not me.has(*MAIL_READERS):
        query = query.where(OutboxMessage.person_id == me.id)
    return query


@router.get("/mail")
def mail_list(request: Request):
    _captured_only(request)
    with reading_as(request) as (session, me):
        rows = session.exec(_mail_query(me).order_by(OutboxMessage.id.desc()).limit(MAIL_PAGE))
        return page(request, "mail.html", viewer=me, rows=list(rows), limit=MAIL_PAGE)


@router.get("/mail/{message_id}")
def mail_show(request: Request, message_id: int):
    _captured_only(request)
    with reading_as(request) as (session, me):
        row = session.exec(_mail_query(me).where(OutboxMessage.id == message_id)).first()
        if row is None:
            raise NotFound(f"找不到邮件 {message_id}")
        body = session.get(OutboxBody, message_id)
        return page(request, "mail_show.html", viewer=me, row=row, body=body)


@router.get("/calendar")
def calendar_page(request: Request):
    with reading_as(request) as (_, me):
        feed = f"{desk_of(request).settings.base_url.rstrip('/')}/feeds/{me.account.feed_key}.ics"
        return page(request, "calendar.html", viewer=me, feed=feed)


@router.get("/feeds/{feed_key}.ics")
def feed(request: Request, feed_key: str) -> Response:
    """Deadlines of a person's open tasks and look-backs; the key in the URL is the secret."""
    desk = desk_of(request)
    if not FEED_KEY.fullmatch(feed_key):
        raise NotFound("日历订阅地址无效")
    with desk.reading() as session:
        person = session.exec(
            select(Person).join(Account, Account.person_id == Person.id)
            .where(Account.feed_key == feed_key, Person.active)
        ).first()  # fmt: skip
        if person is None:
            raise NotFound("日历订阅地址无效")
        body = _ics(session, person, desk.settings.base_url.rstrip("/"), desk.now())
    return Response(body, media_type="text/calendar; charset=utf-8")


def _ics(session: Session, person: Person, base: str, now: datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Rectify//整改工作平台//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{person.name}的整改时限")
    tasks = session.exec(
        select(Task, Area).join(Area).where(
            own_tasks(person), Task.stage.in_([s.value for s in OPEN_STAGES]),
            Task.deadline.is_not(None), Task.deadline_class != DeadlineClass.LONG_TERM.value,
        ),
        params=relation_params(person),
    )  # fmt: skip
    for task, area in tasks:
        cal.add_component(_day_event(f"task-{task.id}@rectify", task.deadline,
                                     f"【整改时限】{area.number}.{task.number} {task.title}",
                                     f"{base}/tasks/{task.id}", now))  # fmt: skip
    reviews = session.exec(
        select(LookbackReview, Task).join(Task, Task.id == LookbackReview.task_id).where(
            LookbackReview.reviewer_id == person.id,
            LookbackReview.status == ReviewStatus.OPEN.value,
        )
    )  # fmt: skip
    for review, task in reviews:
        title = f"【回头看时限】{task.title}"
        uid = f"lookback-{review.id}@rectify"
        cal.add_component(_day_event(uid, review.due, title, f"{base}/tasks/{task.id}", now))
    return cal.to_ical()


def _day_event(uid: str, day, summary: str, url: str, now: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("url", url)
    event.add("description", url)
    return event
