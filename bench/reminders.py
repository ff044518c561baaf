"""Benchmark: the day's deadline reminders — planning and delivery, against a ceiling and naive.

    .venv/bin/python bench/reminders.py                 # 100,000 open tasks, 5,000 people, SQLite
    .venv/bin/python bench/reminders.py --tasks 20000 --skip-flows      # quicker
    .venv/bin/python bench/reminders.py --postgres postgresql://postgres:postgres@127.0.0.1/postgres

Issue 4. A generator builds a ledger of open tasks (stages assigned / acting / evidence, every
one dated, deadlines spread from 60 days before to 300 days after the benchmark day) for
5,000 people with e-mail addresses: a leadership group of 5, 300 leaders, 4,693 officers, the
office and the system. Then, side by side, against one aiosmtpd sink running in its own
process (accepts everything, counts):

  ceiling  — raw aiosmtplib: the very messages Rectify enqueued (same addresses, subjects,
             text and HTML parts), serialised up front (untimed) and handed to `sendmail` over
             8 reused connections in parallel: the transport alone
  ceiling′ — the same with EmailMessage objects built up front and `send_message`, which
             serialises each with the email package while sending (what most code does)
  plan     — flows.reminders.plan_day (what the deadline_reminders flow calls): plan + render +
             enqueue one digest per person
  deliver  — notifications.delivery.deliver_due (what the deliver_outbox flow calls), 8
             connections, security "none"
  naive    — on a 1,000-task ledger: a Prefect flow with one Prefect task per ledger row (load
             the row, decide with the same rule) and prefect-email's email_send_message per
             message (one message per reminder, no digest), awaited in an async flow
  flows    — one real run of each Prefect flow (deadline_reminders, deliver_outbox) on a fresh
             copy of the ledger, to show what the Prefect wrapper adds (--skip-flows to skip)

Every measurement runs in a fresh subprocess: its peak RSS (VmHWM) is that operation's, plus
the interpreter and imports (the "baseline" row). Prefect's temporary API server is a process
of its own and is not in the Prefect rows' RSS; its start-up is done before the clock starts.
Times are printed, never asserted; BENCHMARKS.md keeps the numbers.
"""

import argparse
import importlib.util
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import GIVEN, SURNAMES, Databases, filler_text, peak_mb  # noqa: E402

NOW = datetime(2026, 9, 14, 0, 30, tzinfo=UTC)  # Monday 14 September 2026, 08:30 in Beijing
TODAY = date(2026, 9, 14)
PEOPLE = 5000
LEADERSHIP = range(1, 6)  # 领导小组
LEADERS = range(6, 306)  # 责任领导
OFFICERS = range(306, PEOPLE - 1)  # 责任人
OFFICE_ID, SYSTEM_ID = PEOPLE - 1, PEOPLE
CONNECTIONS = 8
NAIVE_TASKS = 1000
DEADLINE_SPREAD = (-60, 300)  # days around the benchmark day


def build(url: str, tasks: int) -> None:
    """A ledger of `tasks` open, dated tasks for PEOPLE people, with bulk Core inserts."""
    from sqlalchemy import insert, text

    from models.db import make_engine, upgrade
    from models.ledger import Area, DeadlineClass, Inspection, Task
    from models.people import SYSTEM_NAME, Department, Person, PersonRole, Role
    from models.stages import Stage

    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(4)
    names = [s + g1 + g2 for s in SURNAMES for g1 in GIVEN for g2 in GIVEN]
    rng.shuffle(names)
    with engine.begin() as db:
        db.execute(insert(Department), [{"id": i, "name": f"第{i:03d}科"} for i in range(1, 101)])
        people, roles = [], []
        for i in range(1, PEOPLE + 1):
            if i in LEADERSHIP:
                role = Role.LEADERSHIP
            elif i in LEADERS:
                role = Role.LEADER
            elif i in OFFICERS:
                role = Role.OFFICER
            else:
                role = Role.OFFICE if i == OFFICE_ID else Role.SYSTEM
            people.append(
                {
                    "id": i,
                    "name": SYSTEM_NAME if role == Role.SYSTEM else names[i] + str(i),
                    "email": None if role == Role.SYSTEM else f"p{i}@example.gov.cn",
                    "department_id": (i % 100) + 1 if role != Role.SYSTEM else None,
                    "created_at": NOW,
                }
            )
            roles.append({"person_id": i, "role": role})
        db.execute(insert(Person), people)
        db.execute(insert(PersonRole), roles)
        db.execute(insert(Inspection), [{"id": 1, "title": "基准测试巡察", "created_at": NOW}])
        areas = (tasks + 999) // 1000
        db.execute(
            insert(Area),
            [
                {
                    "id": a,
                    "inspection_id": 1,
                    "number": a,
                    "title": f"第{a}方面：{filler_text(rng, 30)}",
                }
                for a in range(1, areas + 1)
            ],
        )
        stages = [Stage.ASSIGNED] * 30 + [Stage.ACTING] * 55 + [Stage.EVIDENCE] * 15
        officers = list(OFFICERS)
        rows = []
        for t in range(1, tasks + 1):
            officer = rng.choice(officers)
            rows.append(
                {
                    "id": t,
                    "inspection_id": 1,
                    "area_id": (t - 1) // 1000 + 1,
                    "number": (t - 1) % 1000 + 1,
                    "title": f"问题{t}：{filler_text(rng, 30)}",
                    "stage": rng.choice(stages),
                    "leader_id": LEADERS[officer % len(LEADERS)],
                    "lead_department_id": (officer % 100) + 1,
                    "officer_id": officer,
                    "deadline": TODAY + timedelta(days=rng.randint(*DEADLINE_SPREAD)),
                    "deadline_class": DeadlineClass.DATED,
                    "round": 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
        for start in range(0, len(rows), 20000):
            db.execute(insert(Task), rows[start : start + 20000])
        if db.dialect.name == "postgresql":
            for table in ("department", "person", "inspection", "area", "task"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                db.execute(text(f"SELECT setval({sequence}, max(id)) FROM {table}"))
    engine.dispose()


# --- the sink: its own process ---------------------------------------------------------


def sink(port: int) -> None:
    """aiosmtpd accepting every message; prints counts when a line arrives on stdin."""
    from aiosmtpd.controller import Controller

    class Counter:
        messages = 0
        size = 0
        first = last = None  # time.monotonic() of the first and the last message: one clock
        # for every process of the machine, so a benchmark can time senders it did not start

        async def handle_DATA(self, server, session, envelope):
            self.messages += 1
            self.size += len(envelope.content)
            self.last = time.monotonic()
            self.first = self.first or self.last
            return "250 OK"

    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "reset":  # a new round: first and last start again
            counter.first = counter.last = None
        reading = {"messages": counter.messages, "bytes": counter.size}
        print(json.dumps(reading | {"first": counter.first, "last": counter.last}), flush=True)
    controller.stop()


class Sink:
    def __init__(self) -> None:
        with socket.socket() as probe:  # aiosmtpd cannot take port 0: pick a free one first
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--sink", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def reading(self, *, reset: bool = False) -> dict:
        """Messages and bytes so far, and when the first and the last arrived (since the
        last reset)."""
        self.process.stdin.write("reset\n" if reset else "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def count(self) -> int:
        return self.reading()["messages"]

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# --- measurements, each in its own process ---------------------------------------------


def smtp_settings(url: str, port: int):
    from models.settings import Settings

    return Settings(
        database_url=url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        mail_connections=CONNECTIONS,
    )


def child(operation: str, url: str, port: int) -> dict:
    from models.db import make_engine

    engine = make_engine(url)
    if operation == "baseline":
        import flows.reminders  # noqa: F401
        import notifications.delivery  # noqa: F401

        return {"messages": 0, "seconds": 0.0}
    if operation == "plan":
        from flows.reminders import plan_day

        settings = smtp_settings(url, port)
        started = time.perf_counter()
        report = plan_day(engine, NOW, settings)
        seconds = time.perf_counter() - started
        detail = f"{report.digests:,} digests, {report.items:,} items"
        return {"messages": report.enqueued, "seconds": seconds, "detail": detail}
    if operation == "deliver":
        from notifications.delivery import deliver_due

        settings = smtp_settings(url, port)
        started = time.perf_counter()
        report = deliver_due(engine, NOW, settings)
        seconds = time.perf_counter() - started
        detail = f"retried {report.retried}, failed {report.failed}, problem {report.problem}"
        return {"messages": report.sent, "seconds": seconds, "detail": detail}
    if operation in ("ceiling", "ceiling_message"):
        return ceiling(engine, port, "bytes" if operation == "ceiling" else "message")
    if operation == "naive":
        return naive(engine, port)
    if operation == "flows":
        return flow_runs()
    raise SystemExit(f"unknown operation {operation}")


def ceiling(engine, port: int, form: str) -> dict:
    """Raw aiosmtplib: the enqueued messages, built first, sent over 8 reused connections.

    form "bytes": each message serialised up front and handed to `sendmail` (the transport
    alone: the ceiling); form "message": an EmailMessage built up front and handed to
    `send_message`, which serialises it with the email package while sending.
    """
    import asyncio
    from collections import deque
    from email.message import EmailMessage
    from email.utils import format_datetime

    import aiosmtplib
    from sqlmodel import Session, select

    from models.mail import MessageState, OutboxBody, OutboxMessage
    from notifications.message import email_bytes

    messages = deque()
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage, OutboxBody)
            .join(OutboxBody, OutboxBody.message_id == OutboxMessage.id)
            .where(OutboxMessage.state == MessageState.PENDING)
        )
        for row, body in rows:
            if form == "bytes":
                data = email_bytes(
                    row, body, sender="Rectify <rectify@localhost>", domain="localhost", now=NOW
                )
                messages.append((row.to_address, data))
                continue
            message = EmailMessage()
            message["From"] = "Rectify <rectify@localhost>"
            message["To"] = row.to_address
            message["Subject"] = row.subject
            message["Date"] = format_datetime(NOW)
            message["Message-ID"] = f"<ceiling-{row.id}@localhost>"
            message.set_content(body.text)
            message.add_alternative(body.html, subtype="html")
            messages.append((row.to_address, message))
    total = len(messages)

    async def worker() -> int:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=False, local_hostname="localhost"
        )
        await client.connect()
        sent = 0
        while messages:
            to, message = messages.popleft()
            if form == "bytes":
                await client.sendmail("rectify@localhost", [to], message)
            else:
                await client.send_message(message)
            sent += 1
        await client.quit()
        return sent

    async def run() -> int:
        return sum(await asyncio.gather(*(worker() for _ in range(CONNECTIONS))))

    started = time.perf_counter()
    sent = asyncio.run(run())
    seconds = time.perf_counter() - started
    return {"messages": sent, "seconds": seconds, "detail": f"{total:,} built up front"}


def _quiet_prefect():
    """Heartbeat off (about 1 s per sync flow run otherwise, STACK-NOTES.md)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def naive(engine, port: int) -> dict:
    """One Prefect task per ledger row, one prefect-email message per reminder."""
    import asyncio

    from prefect import flow, task
    from prefect_email import EmailServerCredentials, email_send_message
    from sqlmodel import Session, select

    from models.calendar import load_calendar
    from models.ledger import Task
    from models.people import Person, PersonRole, Role
    from models.reminders import DEFAULT_POLICY, _due_deadlines
    from models.stages import OPEN_STAGES

    credentials = EmailServerCredentials(
        smtp_server="127.0.0.1", smtp_port=port, smtp_type="INSECURE"
    )
    with Session(engine) as session:
        calendar = load_calendar(session)
        ids = list(session.exec(select(Task.id).order_by(Task.id)))
        emails = dict(session.exec(select(Person.id, Person.email)).all())
        leadership = list(
            session.exec(
                select(PersonRole.person_id).where(PersonRole.role == Role.LEADERSHIP.value)
            )
        )
    horizon = calendar.add_working_days(TODAY, max(DEFAULT_POLICY.before_days))

    @task
    def remind_row(task_id: int) -> list[tuple[str, str]]:
        """Whom to tell about this one row today: (address, text)."""
        with Session(engine) as session:
            row = session.get(Task, task_id)
        if row.stage not in OPEN_STAGES or row.deadline is None or row.deadline > horizon:
            return []
        due = _due_deadlines(
            TODAY, min(TODAY, row.deadline), horizon, calendar, DEFAULT_POLICY
        ).get(row.deadline)
        if due is None:
            return []
        who = [row.officer_id]
        if due < 0:
            who.append(row.leader_id)
            if -due >= DEFAULT_POLICY.leadership_from:
                who += leadership
        line = f"整改任务「{row.title}」，整改时限 {row.deadline}（{due} 个工作日）"
        return [(emails[p], line) for p in who]

    sends: list[float] = []

    @flow(name="naive_reminders")
    async def naive_reminders() -> int:
        sent = 0
        for task_id in ids:
            for address, line in remind_row(task_id):
                started = time.perf_counter()
                await email_send_message(
                    subject="整改时限提醒",
                    msg=f"<p>{line}</p>",
                    msg_plain=line,
                    email_server_credentials=credentials,
                    email_from="rectify@localhost",
                    email_to=address,
                )
                sends.append(time.perf_counter() - started)
                sent += 1
        return sent

    @flow(name="warm_up")
    async def warm_up() -> int:
        return 1

    with _quiet_prefect():
        started = time.perf_counter()
        asyncio.run(warm_up())  # starts the temporary API server
        server = time.perf_counter() - started
        started = time.perf_counter()
        sent = asyncio.run(naive_reminders())
        seconds = time.perf_counter() - started
    detail = (
        f"{len(ids):,} task runs, {sent} messages; the sends alone {sum(sends):.2f} s "
        f"({sent / sum(sends) if sends else 0:.0f} msg/s); temporary server start {server:.1f} s"
    )
    return {"messages": sent, "seconds": seconds, "detail": detail}


def flow_runs() -> dict:
    """One real run of each flow (settings from RECTIFY_* in the environment)."""
    from prefect import flow

    from flows.jobs import deadline_reminders, deliver_outbox

    @flow(name="warm_up")
    def warm_up() -> int:
        return 1

    with _quiet_prefect():
        started = time.perf_counter()
        warm_up()
        server = time.perf_counter() - started
        started = time.perf_counter()
        warm_up()
        trivial = time.perf_counter() - started
        started = time.perf_counter()
        planned = deadline_reminders(at=NOW)
        plan_seconds = time.perf_counter() - started
        started = time.perf_counter()
        delivered = deliver_outbox(at=NOW)
        deliver_seconds = time.perf_counter() - started
    return {
        "messages": delivered["delivery"]["sent"],
        "seconds": plan_seconds + deliver_seconds,
        "plan_seconds": plan_seconds,
        "deliver_seconds": deliver_seconds,
        "enqueued": planned["enqueued"],
        "detail": (
            f"temporary server start {server:.1f} s, trivial flow run {trivial * 1000:.0f} ms"
        ),
    }


def measure(operation: str, url: str, port: int, env: dict | None = None) -> dict:
    """Run one operation in a fresh interpreter and return what it measured."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", operation, url, str(port)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode:
        raise SystemExit(f"{operation} failed:\n{done.stderr[-5000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def outbox_stats(url: str) -> dict:
    """Who got a digest, and how large the messages are (text + HTML, UTF-8 bytes)."""
    from sqlmodel import Session, select

    from models.db import make_engine
    from models.mail import OutboxBody, OutboxMessage
    from models.people import PersonRole, Role

    engine = make_engine(url)
    with Session(engine) as session:
        roles = dict(session.exec(select(PersonRole.person_id, PersonRole.role)).all())
        rows = session.exec(
            select(OutboxMessage.person_id, OutboxBody.text, OutboxBody.html).join(
                OutboxBody, OutboxBody.message_id == OutboxMessage.id
            )
        ).all()
        officers = len(
            list(
                session.exec(
                    select(PersonRole.person_id).where(PersonRole.role == Role.OFFICER.value)
                )
            )
        )
    engine.dispose()
    by_role: dict[str, int] = {}
    sizes = []
    for person_id, text_part, html in rows:
        by_role[roles[person_id]] = by_role.get(roles[person_id], 0) + 1
        sizes.append(len(text_part.encode()) + len(html.encode()))
    sizes.sort()
    return {
        "by_role": by_role,
        "officers": officers,
        "median_kb": statistics.median(sizes) / 1024 if sizes else 0,
        "max_kb": sizes[-1] / 1024 if sizes else 0,
        "total_mb": sum(sizes) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--naive-tasks", type=int, default=NAIVE_TASKS)
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="measure on this PostgreSQL server")
    parser.add_argument("--skip-flows", action="store_true", help="no real Prefect flow runs")
    parser.add_argument("--skip-naive", action="store_true", help="no naive Prefect run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="plan, ceiling, deliver and flows this many times"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        sink(args.sink)
        return
    if args.child:
        operation, url, port = args.child
        result = child(operation, url, int(port))
        result["peak_mb"] = peak_mb()
        print(json.dumps(result))
        return

    if not args.skip_naive and importlib.util.find_spec("prefect_email") is None:
        parser.error("the naive run needs prefect-email: .venv/bin/pip install -e '.[bench]'")
    rounds: list[dict[str, dict]] = []
    once: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as folder:
        work = Path(folder)
        databases = Databases(work, args.postgres)
        sink_process = Sink()
        env = dict(os.environ)
        env.pop("PREFECT_API_URL", None)  # each Prefect child starts its own temporary server
        env.update(
            PREFECT_HOME=str(work / "prefect"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
        )
        try:
            print("building databases…", file=sys.stderr)
            started = time.perf_counter()
            build(databases.create("ledger"), args.tasks)
            build(databases.create("naive"), args.naive_tasks)
            databases.settle("ledger")
            databases.settle("naive")
            print(f"built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            port = sink_process.port

            def run(into: dict, name: str, url: str, child_env: dict | None = None) -> None:
                print(f"{name}…", file=sys.stderr)
                before = sink_process.count()
                into[name] = measure(name, url, port, child_env)
                into[name]["sink"] = sink_process.count() - before

            run(once, "baseline", databases.url("ledger"))
            for number in range(args.rounds):
                print(f"round {number + 1} of {args.rounds}", file=sys.stderr)
                results: dict[str, dict] = {}
                day = databases.copy("ledger", f"day{number}")
                run(results, "plan", day)
                if number == 0:
                    stats = outbox_stats(day)
                    run(once, "ceiling_message", day)
                run(results, "ceiling", day)
                run(results, "deliver", day)
                if not args.skip_flows:
                    flows_url = databases.copy("ledger", f"flows{number}")
                    flow_env = dict(
                        env,
                        RECTIFY_DATABASE_URL=flows_url,
                        RECTIFY_SMTP_HOST="127.0.0.1",
                        RECTIFY_SMTP_PORT=str(port),
                        RECTIFY_SMTP_SECURITY="none",
                        RECTIFY_MAIL_CONNECTIONS=str(CONNECTIONS),
                    )
                    run(results, "flows", flows_url, flow_env)
                    databases.discard(f"flows{number}")
                databases.discard(f"day{number}")
                rounds.append(results)
            if not args.skip_naive:
                run(once, "naive", databases.url("naive"), env)
        finally:
            sink_process.stop()
            if args.postgres:
                databases.drop()

    report(args, rounds, once, stats)


def rate(r: dict, seconds: str = "seconds") -> float:
    return r["messages"] / r[seconds] if r[seconds] else 0.0


def spread(values: list[float], form: str) -> str:
    """The median, and the range over the rounds when there were several."""
    middle = format(statistics.median(values), form)
    if len(values) == 1:
        return middle
    return f"{middle} ({format(min(values), form)}–{format(max(values), form)})"


def report(args, rounds: list[dict[str, dict]], once: dict[str, dict], stats: dict) -> None:
    naive = once.get("naive")
    naive_rate = rate(naive) if naive else None

    def row(name: str, planning: list[float] | None, rates: list[float] | None, key: str) -> None:
        """One line: medians (and ranges) over the rounds; ratios are taken within a round."""
        runs = [r[key] for r in rounds]
        messages = runs[0]["messages"]
        ceilings = [rate(r["ceiling"]) for r in rounds]
        of_ceiling = "—"
        if rates:
            shares = [x / c for x, c in zip(rates, ceilings, strict=True)]
            of_ceiling = "100%" if key == "ceiling" else spread(shares, ".0%")
        cells = [
            spread(planning, ".2f") if planning else "—",
            f"{messages:,}",
            spread([messages / x for x in rates], ".2f") if rates else "—",
            spread(rates, ".0f") if rates else "—",
            spread([r["peak_mb"] for r in runs], ".0f"),
            of_ceiling,
            spread([x / naive_rate for x in rates], ".1f") + "×" if rates and naive_rate else "—",
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")

    print()
    print(
        f"database: {'PostgreSQL' if args.postgres else 'SQLite'}; {args.tasks:,} open tasks, "
        f"{PEOPLE:,} people; day {TODAY} (a Monday, working day), {CONNECTIONS} connections; "
        f"{len(rounds)} round(s): median (lowest–highest), ratios taken within each round"
    )
    print(
        "| run | planning s | messages | sending s | msg/s | peak RSS MB | of ceiling | × naive |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    b = once["baseline"]
    print(f"| baseline (interpreter and imports) | — | — | — | — | {b['peak_mb']:.0f} | — | — |")
    row(
        "(a) ceiling: raw aiosmtplib `sendmail`, bytes built up front",
        None,
        [rate(r["ceiling"]) for r in rounds],
        "ceiling",
    )
    form = once["ceiling_message"]
    first_ceiling = rate(rounds[0]["ceiling"])
    print(
        f"| (a′) raw aiosmtplib `send_message`, EmailMessage built up front (round 1) | — "
        f"| {form['messages']:,} | {form['seconds']:.2f} | {rate(form):.0f} "
        f"| {form['peak_mb']:.0f} | {rate(form) / first_ceiling:.0%} "
        f"| {f'{rate(form) / naive_rate:.1f}×' if naive_rate else '—'} |"
    )
    row(
        "(b) Rectify `plan_day` (plan + render + enqueue)",
        [r["plan"]["seconds"] for r in rounds],
        None,
        "plan",
    )
    row("(b) Rectify `deliver_due`", None, [rate(r["deliver"]) for r in rounds], "deliver")
    if all("flows" in r for r in rounds):
        row(
            "(b) the Prefect flows `deadline_reminders` + `deliver_outbox`, one run each",
            [r["flows"]["plan_seconds"] for r in rounds],
            [rate(r["flows"], "deliver_seconds") for r in rounds],
            "flows",
        )
    if naive:
        print(
            f"| (c) naive: Prefect task per row + prefect-email, {args.naive_tasks:,} tasks "
            f"| — | {naive['messages']:,} | {naive['seconds']:.2f} | {naive_rate:.0f} "
            f"| {naive['peak_mb']:.0f} | — | 1.0× |"
        )
    print()
    roles = ", ".join(f"{role} {n:,}" for role, n in sorted(stats["by_role"].items()))
    print(f"digests by role: {roles} (of {stats['officers']:,} officers)")
    print(
        f"digest size (text + HTML): median {stats['median_kb']:.1f} KB, "
        f"largest {stats['max_kb']:.0f} KB, all {stats['total_mb']:.1f} MB"
    )
    for number, results in enumerate(rounds, 1):
        for name, r in {**results, **(once if number == 1 else {})}.items():
            line = f"round {number}, {name}: sink counted {r['sink']:,}"
            if r.get("detail"):
                line += f"; {r['detail']}"
            print(line)


if __name__ == "__main__":
    main()
