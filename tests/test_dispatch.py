"""The quarterly dispatch, on SQLite and PostgreSQL: the round's working days by the Chinese
calendar, one round per quarter, answers through progress reports, chasers, escalation,
and the report with its charts and 调度表, delivered over SMTP."""

import io
import warnings
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, func, select

from flows.dispatch import chase_and_close, open_due_rounds
from flows.dispatch_report import chinese_font
from models.calendar import WorkCalendar
from models.dispatch import DEFAULT_DISPATCH, due_opening, duties, open_rounds
from models.dispatch_tables import DispatchRequest, DispatchRound
from models.errors import Refused
from models.mail import OutboxMessage
from models.records import ProgressReport
from models.settings import Settings
from models.stages import Action, Stage
from notifications.delivery import deliver_due
from tests.cli_harness import clear_rectify_environment
from tests.test_delivery import Server, free_port

D = date
SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()

# The rounds of 2026, worked out by hand from the State Council's holiday notice: the 1st,
# 3rd (chase), 5th (due, chase) and 6th (escalate, close) working day of each.
ROUNDS_2026 = {
    1: (D(2026, 1, 4), D(2026, 1, 6), D(2026, 1, 8), D(2026, 1, 9)),  # 1/4: a Sunday, worked
    4: (D(2026, 4, 1), D(2026, 4, 3), D(2026, 4, 8), D(2026, 4, 9)),  # 4/4–6 清明 off
    7: (D(2026, 7, 1), D(2026, 7, 3), D(2026, 7, 7), D(2026, 7, 8)),
    10: (D(2026, 10, 8), D(2026, 10, 10), D(2026, 10, 13), D(2026, 10, 14)),  # 10/10: Sat
}


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize("month", sorted(ROUNDS_2026))
def test_a_round_opens_at_nine_on_the_first_working_day_of_the_quarter(month):
    opens, _, due, closes = ROUNDS_2026[month]

    assert due_opening(at(opens, 8, 59), CALENDAR) is None
    assert due_opening(at(opens), CALENDAR) == (2026, (month - 1) // 3 + 1, opens)
    assert due_opening(at(opens - timedelta(days=1), 12), CALENDAR) is None
    # a scheduler that was down on the opening day still opens it, until it would close
    assert due_opening(at(due, 17), CALENDAR) == (2026, (month - 1) // 3 + 1, opens)
    assert due_opening(at(closes), CALENDAR) is None


def test_no_round_opens_outside_the_dispatch_months():
    assert due_opening(at(D(2026, 2, 2)), CALENDAR) is None
    assert due_opening(at(D(2026, 11, 2)), CALENDAR) is None


# --- a round on a small ledger -----------------------------------------------------------------


@pytest.fixture
def ledger(world):
    """Open tasks of every kind, and tasks a round must not ask about."""
    world.now = at(D(2026, 9, 1))
    tasks = {
        "assigned": world.task_at(Stage.ASSIGNED),
        "acting": world.task_at(Stage.ACTING),
        "evidence": world.task_at(Stage.EVIDENCE),
        "long_term": world.task_at(Stage.ACTING, long_term=True),
        "signed_off": world.task_at(Stage.SIGNED_OFF),
        "pending": world.new_task(),
    }
    world.session.commit()
    return tasks


def rounds(session: Session) -> list[DispatchRound]:
    return list(session.exec(select(DispatchRound).order_by(DispatchRound.id)))


def requests(session: Session, dispatch: DispatchRound) -> list[DispatchRequest]:
    query = select(DispatchRequest).where(DispatchRequest.round_id == dispatch.id)
    return list(session.exec(query.order_by(DispatchRequest.task_id)))


def test_a_round_asks_about_every_open_task_long_term_ones_too(world, ledger):
    (dispatch,) = open_rounds(world.session, at(D(2026, 10, 8)), CALENDAR)

    asked = {r.task_id for r in requests(world.session, dispatch)}
    assert asked == {ledger[k].id for k in ("assigned", "acting", "evidence", "long_term")}
    assert (dispatch.title, dispatch.number) == ("2026年第四季度调度", 1)
    assert (dispatch.opened_on, dispatch.due, dispatch.closes_on) == (
        D(2026, 10, 8),
        D(2026, 10, 13),
        D(2026, 10, 14),
    )


def test_each_round_is_created_once_and_rounds_are_counted(world, ledger):
    session = world.session
    first = open_rounds(session, at(D(2026, 10, 8)), CALENDAR)
    again = [
        *open_rounds(session, at(D(2026, 10, 8), 9, 1), CALENDAR),
        *open_rounds(session, at(D(2026, 10, 9)), CALENDAR),
    ]
    session.commit()

    assert len(first) == 1 and again == []
    nxt = open_rounds(session, at(D(2027, 1, 4)), WorkCalendar())  # 2027: Mon–Fri fallback
    assert [r.number for r in rounds(session)] == [1, 2]
    assert nxt[0].title == "2027年第一季度调度"


def test_the_database_refuses_a_second_round_for_the_same_quarter(world, ledger):
    from sqlalchemy.exc import IntegrityError

    (dispatch,) = open_rounds(world.session, at(D(2026, 10, 8)), CALENDAR)
    world.session.commit()
    twin = DispatchRound(
        **{k: v for k, v in dispatch.model_dump().items() if k not in ("id", "number")},
        number=2,
    )
    world.session.add(twin)

    with pytest.raises(IntegrityError):
        world.session.commit()
    world.session.rollback()
    assert len(rounds(world.session)) == 1


def test_a_progress_report_by_the_officer_answers_the_open_round(world, ledger):
    (dispatch,) = open_rounds(world.session, at(D(2026, 10, 8)), CALENDAR)
    world.now = at(D(2026, 10, 9), 10)

    event = world.do(
        ledger["acting"], Action.REPORT_PROGRESS, status="mostly_done", text="基本完成"
    )

    answered = {r.task_id: r for r in requests(world.session, dispatch) if r.answered_at}
    assert set(answered) == {ledger["acting"].id}
    report = world.session.get(ProgressReport, answered[ledger["acting"].id].report_id)
    assert (report.status, report.text) == ("mostly_done", "基本完成")
    assert event.data["dispatch_round"] == dispatch.id


@pytest.mark.parametrize(
    ("which", "by", "reason"),
    [
        ("signed_off", "officer", "当前处于“已销号”阶段，不能报送进展"),
        ("pending", "officer", "当前处于“待交办”阶段，不能报送进展"),
        ("acting", "leader", "无权"),
        ("acting", "reviewer", "无权"),
    ],
)
def test_a_report_for_a_closed_task_or_by_someone_else_is_refused_and_answers_nothing(
    world, ledger, which, by, reason
):
    (dispatch,) = open_rounds(world.session, at(D(2026, 10, 8)), CALENDAR)
    before = world.session.exec(select(func.count()).select_from(ProgressReport)).one()

    with pytest.raises(Refused, match=reason):
        world.do(ledger[which], Action.REPORT_PROGRESS, actor=getattr(world, by))

    assert world.session.exec(select(func.count()).select_from(ProgressReport)).one() == before
    assert not [r for r in requests(world.session, dispatch) if r.answered_at]


def test_the_silent_are_chased_on_the_third_and_fifth_working_day_and_the_round_closes_on_the_sixth(
    world, ledger
):
    session = world.session
    open_rounds(session, at(D(2026, 10, 8)), CALENDAR)
    world.now = at(D(2026, 10, 9), 10)
    world.do(ledger["acting"], Action.REPORT_PROGRESS)  # one answer; three stay silent

    seen = {}
    day = D(2026, 10, 8)
    while day <= D(2026, 10, 16):
        seen[day] = [(d.kind, d.day, len(d.unanswered)) for d in duties(session, at(day), CALENDAR)]
        day += timedelta(days=1)

    assert {d: v for d, v in seen.items() if v} == {
        D(2026, 10, 10): [("chase", 3, 3)],  # a Saturday, worked
        D(2026, 10, 13): [("chase", 5, 3)],
        D(2026, 10, 14): [("close", DEFAULT_DISPATCH.close_day, 3)],
        D(2026, 10, 15): [("close", DEFAULT_DISPATCH.close_day, 3)],  # until it is closed
        D(2026, 10, 16): [("close", DEFAULT_DISPATCH.close_day, 3)],
    }
    assert duties(session, at(D(2026, 10, 13), 8, 59), CALENDAR) == []  # not before 09:00


# --- the flows, into the outbox and over SMTP ----------------------------------------------------


@pytest.fixture
def smtp():
    running = Server(free_port()).start()
    yield running
    running.stop()


@pytest.fixture
def settings(tmp_path, monkeypatch, smtp) -> Settings:
    clear_rectify_environment(monkeypatch)
    return Settings(
        home=tmp_path / "home",
        mail_from="整改办 <zgb@example.cn>",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_timeout=5,
        mail_connections=2,
    )


def kinds(engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(r.kind, r.to_address) for r in rows]


def test_a_whole_round_by_mail_request_chasers_escalation_and_the_report(
    world, ledger, engine, settings, smtp
):
    w = world
    officer, leader, leadership = w.officer.email, w.leader.email, w.leadership.email
    days = {}
    for day in (D(2026, 10, 8), D(2026, 10, 9), D(2026, 10, 10), D(2026, 10, 13), D(2026, 10, 14)):
        before = len(kinds(engine))
        if day == D(2026, 10, 9):  # the officer answers two of the four
            w.now = at(day, 10)
            w.do(ledger["acting"], Action.REPORT_PROGRESS, status="done", text="已全部完成")
            w.do(ledger["long_term"], Action.REPORT_PROGRESS, status="ongoing", text="持续推进")
            w.session.commit()
        opened = open_due_rounds(engine, at(day), settings)
        chased = chase_and_close(engine, at(day), settings)
        days[day] = (opened.enqueued + chased.enqueued, kinds(engine)[before:])
    delivered = deliver_due(engine, at(D(2026, 10, 14), 9, 5), settings)

    assert days[D(2026, 10, 8)] == (1, [("dispatch_request", officer)])
    assert days[D(2026, 10, 9)] == (0, [])
    assert days[D(2026, 10, 10)] == (1, [("dispatch_chaser", officer)])
    assert days[D(2026, 10, 13)] == (1, [("dispatch_chaser", officer)])
    assert days[D(2026, 10, 14)] == (
        2,
        [("dispatch_escalation", leader), ("dispatch_report", leadership)],
    )
    assert delivered.sent == 5 and delivered.failed == 0
    subjects = [str(m["Subject"]) for m in smtp.sink.received]
    assert (
        subjects[0] == "【整改调度】2026年第四季度调度：请于2026年10月13日前报送 4 项任务的整改进展"
    )
    assert (
        subjects[2] == "【调度催报】2026年第四季度调度：尚有 2 项任务未报送进展，2026年10月13日截止"
    )
    assert subjects[3] == "【调度督办】2026年第四季度调度：您分管的 2 项任务逾期未报送进展"
    assert subjects[4] == "【调度报告】2026年第四季度调度（截至目前已调度1次）"

    report = smtp.sink.received[4]
    text = report.get_body(("plain",)).get_content()
    overall = "本次调度共涉及整改任务 4 项：已完成 1 项；基本完成 0 项；正在推进 0 项；"
    assert overall + "长期坚持 1 项；未报送 2 项。" in text
    assert "这是本轮整改的第一次调度。" in text
    files = {part.get_filename(): part for part in report.iter_attachments()}
    sheet = load_workbook(io.BytesIO(files["2026年第四季度调度表.xlsx"].get_content())).active
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert len(rows) == 4
    assert sorted(row[9] for row in rows) == ["已完成", "未报送", "未报送", "长期坚持"]
    assert "已全部完成" in [row[10] for row in rows]
    html = report.get_body(("html",)).get_content()
    inline = [part for part in report.walk() if part.get_content_type() == "image/png"]
    assert len(inline) == 2 and all(p.get_content().startswith(b"\x89PNG") for p in inline)
    for part in inline:  # shown in the HTML, by content id
        assert f'src="cid:{part["Content-ID"].strip("<>")}"' in html

    with Session(engine) as session:
        (dispatch,) = rounds(session)
        assert dispatch.closed_at is not None and dispatch.summary["by_status"]["unanswered"] == 2
        escalated = [r for r in requests(session, dispatch) if r.escalated_at]
        assert len(escalated) == 2
    again = chase_and_close(engine, at(D(2026, 10, 15)), settings)
    assert again.enqueued == 0 and again.closed == []  # closed once


def test_the_next_round_reports_the_change_against_the_previous(world, ledger, engine, settings):
    w = world
    for day in (D(2026, 10, 8), D(2026, 10, 14)):
        open_due_rounds(engine, at(day), settings)
        chase_and_close(engine, at(day), settings)
    w.now = at(D(2027, 1, 4), 10)
    open_due_rounds(engine, at(D(2027, 1, 4)), settings)  # 2027: Mon–Fri fallback, 1/4 Mon
    w.do(w.session.get(type(ledger["acting"]), ledger["acting"].id), Action.REPORT_PROGRESS,
         status="done", text="已完成")  # fmt: skip
    w.session.commit()
    closed = chase_and_close(engine, at(D(2027, 1, 11)), settings)

    assert closed.closed == ["2027年第一季度调度"]
    with Session(engine) as session:
        second = rounds(session)[-1]
        assert second.number == 2
        assert second.summary["previous"]["title"] == "2026年第四季度调度"
        assert second.summary["by_status"] == {"done": 1, "unanswered": 3}
        assert second.summary["previous"]["unanswered"] == 4


def test_the_charts_draw_chinese_with_a_chinese_font_not_boxes():
    from flows.dispatch_report import charts

    summary = {
        "round": {"title": "2026年第四季度调度", "number": 1},
        "by_status": {"done": 3, "unanswered": 1},
        "by_area": {"（一）管党治党方面": {"done": 3}, "（二）服务群众方面": {"unanswered": 1}},
    }
    assert chinese_font() is not None  # make test installs fonts-noto-cjk
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing" for every box
        images, missing = charts(summary)

    assert missing is None
    assert [image.content_type for image in images] == ["image/png", "image/png"]
