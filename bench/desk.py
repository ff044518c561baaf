"""Benchmark: the web desk's latency at 20 concurrent clients over 100,000 tasks (issue 6).

    .venv/bin/python bench/desk.py                      # 100,000 tasks, 5,000 people, SQLite
    .venv/bin/python bench/desk.py --tasks 20000 --requests 20      # quicker
    .venv/bin/python bench/desk.py --postgres postgresql://postgres:postgres@127.0.0.1/postgres

The ledger is the reminders benchmark's (bench/reminders.py: 100,000 open tasks in stages
assigned / acting / evidence, 5,000 people), given what a lived-in ledger has besides: two
measures per task, each task's audit trail (a real hash chain: assigned, started,
submitted), two evidence files and a submission on every task awaiting sign-off, an account
for everyone, and 20 people of the inspection office who sign off.

The desk is served as `rectify run` serves it (cli.desk.desk_app under one uvicorn server,
one process), in a subprocess of its own; its clock is the ledger's day. The clients are
aiohttp sessions in this process, each signed in as a different person, all
sending at once, under two loads, one after the other:

  saturation — each client sends its next request the moment the last is answered (no
               think time). Latency is then the queue in front of one busy process:
               by Little's law about 20 / throughput, whatever the page costs.
  users      — each client waits a random time between its requests (exponential, mean
               --think seconds, default 1 s): twenty people clicking once a second each,
               faster than anyone reads a ledger page.

The pages:

  my tasks — 20 officers, GET /my (each has about 21 tasks)
  ledger   — 20 office sessions, GET /ledger with one or two filters (area, department,
             stage, light, class) and a page among the first five of the result
  task     — 20 officers, GET /tasks/ID of one of their own tasks
  approval — 20 office people, POST /tasks/ID/do/approve on distinct tasks awaiting
             sign-off (the page is read first, untimed, for its form token and version);
             every approval must come back as a redirect to the task, and the number of
             signed-off tasks is checked afterwards
  ledger beside approvals — 16 office sessions read the ledger as above while 4 others
             approve the whole time (untimed here): the ledger's counts and menus are
             remembered only until the next write, and here every approval is one

Every answer is checked (status and a word of the page) so no error page is timed. Latency
is from sending the request to having read the whole answer. Times are printed, never
asserted; BENCHMARKS.md keeps the numbers.
"""

import argparse
import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import Databases, free_port, peak_mb  # noqa: E402
from bench.reminders import NOW, OFFICE_ID, OFFICERS, build  # noqa: E402
from tests.scaled_harness import descendants  # noqa: E402

PASSWORD = "bench-desk-password"
CLIENTS = 20
ALONGSIDE = 4  # of the 20, approving while the others read the ledger
BESIDE = f"ledger, {ALONGSIDE} approving beside"  # that row
OFFICE = list(range(OFFICERS.start, OFFICERS.start + CLIENTS))  # given the office role too
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')


# --- the ledger: what the reminders benchmark builds, plus a lived-in history ----------


def enrich(url: str) -> None:
    """Measures, audit trails, evidence and submissions, accounts and office approvers."""
    from argon2 import PasswordHasher
    from sqlalchemy import insert, select, update

    from models.accounts import Account
    from models.audit import GENESIS, AuditEvent, AuditHead, event_hash, task_chain
    from models.db import make_engine
    from models.ledger import Measure, Task
    from models.people import Person, PersonRole, Role
    from models.records import Evidence
    from models.stages import Action, Stage

    engine = make_engine(url)
    rng = random.Random(6)
    hashed = PasswordHasher().hash(PASSWORD)  # production parameters, one hash for everyone
    with engine.begin() as db:
        names = dict(db.execute(select(Person.id, Person.name)).all())
        tasks = db.execute(select(Task.id, Task.stage, Task.officer_id)).all()
        db.execute(
            insert(Account),
            [
                {
                    "person_id": pid,
                    "password_hash": hashed,
                    "session_epoch": 0,
                    "feed_key": secrets.token_urlsafe(32),
                    "changed_at": NOW,
                }
                for pid in names
                if pid != len(names)  # the system account never signs in
            ],
        )
        db.execute(insert(PersonRole), [{"person_id": p, "role": Role.OFFICE} for p in OFFICE])
        measures, events, heads, evidence, submitted = [], [], [], [], []
        for task_id, stage, officer in tasks:
            for number in (1, 2):
                text = f"措施{number}：建立台账，逐项整改，按期销号"
                measures.append({"task_id": task_id, "number": number, "text": text})
            steps = [(Action.ASSIGN, OFFICE_ID, Stage.PENDING, Stage.ASSIGNED)]
            if stage != Stage.ASSIGNED:
                steps.append((Action.START, officer, Stage.ASSIGNED, Stage.ACTING))
            if stage == Stage.EVIDENCE:
                steps.append((Action.SUBMIT, officer, Stage.ACTING, Stage.EVIDENCE))
                submitted.append(task_id)
                for n in (1, 2):
                    digest = hashlib.sha256(f"{task_id}-{n}".encode()).hexdigest()
                    evidence.append({"task_id": task_id, "sha256": digest,
                                     "name": f"整改佐证{n}.pdf", "content_type": "application/pdf",
                                     "size": rng.randrange(50_000, 2_000_000),
                                     "uploaded_by_id": officer, "uploaded_at": NOW})  # fmt: skip
            previous = GENESIS
            chain = task_chain(task_id)
            for seq, (action, actor, before, after) in enumerate(steps, start=1):
                event = AuditEvent(
                    chain=chain, seq=seq, task_id=task_id, action=action, actor_id=actor,
                    actor_name=names[actor], at=NOW - timedelta(days=30 - 10 * seq),
                    stage_from=before, stage_to=after, details=json.dumps({}),
                    prev_hash=previous, hash="",
                )  # fmt: skip
                event.hash = previous = event_hash(event)
                events.append(event.model_dump(exclude={"id"}))
            heads.append({"chain": chain, "seq": len(steps), "hash": previous})
        for rows, table in ((measures, Measure), (events, AuditEvent), (heads, AuditHead),
                            (evidence, Evidence)):  # fmt: skip
            for start in range(0, len(rows), 20000):
                db.execute(insert(table), rows[start : start + 20000])
        db.execute(
            update(Task)
            .where(Task.id.in_(submitted))
            .values(
                round=1,
                submitted_by_id=Task.officer_id,
                submitted_at=NOW,
                submission_summary="已按整改措施完成整改，佐证材料附后",
            )
        )
    engine.dispose()


# --- the desk, served as `rectify run` serves it ----------------------------------------


def serve(url: str, home: str, port: int, processes: int = 1) -> None:
    """In the subprocess: the desk on this database at the ledger's day, as `rectify run`
    serves it (one process), or as `rectify serve --workers N` does (N processes, a socket
    each: cli.desk_processes)."""
    import os

    import uvicorn

    from models.db import make_engine, refresh_statistics

    engine = make_engine(url)
    refresh_statistics(engine)  # as `rectify run` does when it starts
    engine.dispose()
    os.environ.update(RECTIFY_DATABASE_URL=url, RECTIFY_HOME=home)
    if processes > 1:
        from cli.desk_processes import serve_processes

        serve_processes("bench.desk:desk_at_the_ledger_s_day", "127.0.0.1", port, processes)
        return
    with contextlib.suppress(KeyboardInterrupt):  # how the benchmark stops it
        uvicorn.run(
            "bench.desk:desk_at_the_ledger_s_day", factory=True, host="127.0.0.1", port=port,
            log_level="warning", access_log=False,
        )  # fmt: skip


def desk_at_the_ledger_s_day():
    """What each desk process serves: `rectify serve`'s app, its clock on the ledger's day."""
    from cli.desk import desk_from_environment

    app = desk_from_environment()
    app.state.desk.clock = lambda: NOW
    return app


# --- the clients --------------------------------------------------------------------------


class Refused(Exception):
    """An answer that was not the page asked for: the run is void."""


async def sign_in(client, email: str) -> None:
    async with client.get("/login") as form:
        token = unescape(CSRF.search(await form.text()).group(1))
    answer = await client.post(
        "/login",
        data={"login": email, "password": PASSWORD, "csrf": token, "next": "/my"},
        allow_redirects=False,
    )
    async with answer:
        if answer.status != 303:
            raise Refused(f"sign-in of {email}: {answer.status}")


async def timed_get(client, path: str, marker: str, into: list[float]) -> None:
    started = time.perf_counter()
    async with client.get(path, allow_redirects=False) as answer:
        text = await answer.text()
    into.append(time.perf_counter() - started)
    if answer.status != 200 or marker not in text:
        raise Refused(f"GET {path}: {answer.status} {text[:200]}")


async def approve(client, task_id: int, into: list[float]) -> None:
    async with client.get(f"/tasks/{task_id}") as page:
        text = await page.text()
    token = unescape(CSRF.search(text).group(1))
    version = VERSION.search(text).group(1)
    form = {"csrf": token, "version": version, "comment": "同意销号"}
    started = time.perf_counter()
    path = f"/tasks/{task_id}/do/approve"
    async with client.post(path, data=form, allow_redirects=False) as answer:
        text = await answer.text()
    into.append(time.perf_counter() - started)
    if answer.status != 303 or answer.headers["location"] != f"/tasks/{task_id}":
        raise Refused(f"approve {task_id}: {answer.status} {text[:300]}")


async def scenario(base: str, people: list[str], work) -> dict:
    """Sign each client in (untimed), then run every client's requests at once: each
    request's latency and the wall time of them all.

    Each client is an aiohttp session with one keep-alive connection and its own cookies.
    aiohttp, not httpx: the clients share the two cores with the desk, and httpx spent
    about 2 ms of CPU on each request, aiohttp a fraction of it.
    """
    import aiohttp

    latencies: list[float] = []

    def client() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            base_url=base,
            connector=aiohttp.TCPConnector(limit=1),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies of 127.0.0.1, an address
            timeout=aiohttp.ClientTimeout(total=120),
        )

    clients = [client() for _ in people]
    try:
        await asyncio.gather(*(sign_in(c, email) for c, email in zip(clients, people, strict=True)))
        started = time.perf_counter()
        await asyncio.gather(*(work(i, c, latencies) for i, c in enumerate(clients)))
        seconds = time.perf_counter() - started
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    return {"latencies": latencies, "seconds": seconds}


def plan(url: str, requests: int, seed: int) -> dict:
    """Who asks for what: officers with their tasks, ledger queries, tasks to approve."""
    from sqlalchemy import select

    from models.db import make_engine
    from models.ledger import Area, Task
    from models.people import Department, Person
    from models.stages import Stage

    rng = random.Random(seed)
    engine = make_engine(url)
    with engine.connect() as db:
        email = dict(db.execute(select(Person.id, Person.email)).all())
        owned: dict[int, list[int]] = {}
        for task_id, officer in db.execute(select(Task.id, Task.officer_id)):
            owned.setdefault(officer, []).append(task_id)
        officers = rng.sample([p for p in owned if p not in OFFICE], CLIENTS)
        waiting = db.execute(
            select(Task.id).where(Task.stage == Stage.EVIDENCE, Task.officer_id.not_in(OFFICE))
        ).scalars()
        # two loads: the approval rows, and the approvers beside the ledger readers
        waiting = rng.sample(list(waiting), 2 * (CLIENTS + ALONGSIDE) * requests)
        areas = db.execute(select(Area.id)).scalars().all()
        departments = db.execute(select(Department.id)).scalars().all()
    engine.dispose()
    filters = {
        "area": lambda: rng.choice(areas),
        "department": lambda: rng.choice(departments),
        "stage": lambda: rng.choice(["assigned", "acting", "evidence"]),
        "light": lambda: rng.choice(["green", "yellow", "red"]),
        "class": lambda: "dated",
    }
    queries = []
    for _ in range(2 * CLIENTS * requests):
        chosen = rng.sample(sorted(filters), rng.choice((1, 2)))
        query = "&".join(f"{k}={filters[k]()}" for k in chosen)
        queries.append(f"/ledger?{query}&page={rng.randint(1, 5)}")
    return {
        "officers": [(email[p], owned[p]) for p in officers],
        "office": [email[p] for p in OFFICE],
        "ledger": queries,
        "approve": waiting[: 2 * CLIENTS * requests],
        "alongside": waiting[2 * CLIENTS * requests :],
        "signed_off": signed_off_now(url),
        "rng": rng,
    }


async def measure_all(
    base: str, work: dict, requests: int, think: float, part: int
) -> dict[str, list[float]]:
    """The four pages under one load: `think` seconds between a client's requests on average
    (exponentially distributed; 0: none). `part` picks fresh ledger queries and approvals."""
    rng = work["rng"]
    officers = [email for email, _ in work["officers"]]
    first = (part * CLIENTS) * requests

    async def pause() -> None:
        if think:
            await asyncio.sleep(rng.expovariate(1 / think))

    def mine(i: int, items: list) -> list:
        return items[first + i * requests : first + (i + 1) * requests]

    async def my(i, client, into):
        for _ in range(requests):
            await pause()
            await timed_get(client, "/my", "我的任务", into)

    async def ledger(i, client, into):
        for path in mine(i, work["ledger"]):
            await pause()
            await timed_get(client, path, "整改台账", into)

    async def task(i, client, into):
        tasks = work["officers"][i][1]
        for _ in range(requests):
            await pause()
            await timed_get(client, f"/tasks/{rng.choice(tasks)}", "办理记录", into)

    async def approval(i, client, into):
        for task_id in mine(i, work["approve"]):
            await pause()
            await approve(client, task_id, into)

    readers_done = asyncio.Event()
    readers_left = [CLIENTS - ALONGSIDE]
    approved_alongside: list[float] = []

    async def ledger_beside_approvals(i, client, into):
        if i < ALONGSIDE:  # approve until the readers are done (at most `requests`), untimed
            start = (part * ALONGSIDE + i) * requests
            for task_id in work["alongside"][start : start + requests]:
                if readers_done.is_set():
                    return
                await pause()
                await approve(client, task_id, approved_alongside)
            return
        await ledger(i, client, into)
        readers_left[0] -= 1
        if not readers_left[0]:
            readers_done.set()

    results = {}
    results["my tasks"] = await scenario(base, officers, my)
    results["ledger (filtered, paged)"] = await scenario(base, work["office"], ledger)
    results["task page"] = await scenario(base, officers, task)
    results["approval"] = await scenario(base, work["office"], approval)
    beside = await scenario(base, work["office"], ledger_beside_approvals)
    beside["approved"] = len(approved_alongside)
    results[BESIDE] = beside
    return results


async def warm_up(base: str, work: dict) -> None:
    """Templates compiled and caches filled before anything is timed."""
    officers = [email for email, _ in work["officers"]]

    async def look(i, client, into):
        await timed_get(client, "/my", "我的任务", into)
        await timed_get(client, f"/tasks/{work['officers'][i][1][0]}", "办理记录", into)

    await scenario(base, officers, look)


async def measure_loads(base: str, work: dict, requests: int, think: float) -> dict:
    await warm_up(base, work)
    return {
        0.0: await measure_all(base, work, requests, 0.0, part=0),
        think: await measure_all(base, work, requests, think, part=1),
    }


def signed_off_now(url: str) -> int:
    from sqlalchemy import func, select

    from models.db import make_engine
    from models.ledger import Task
    from models.stages import Stage

    engine = make_engine(url)
    with engine.connect() as db:
        count = db.execute(select(func.count()).where(Task.stage == Stage.SIGNED_OFF))
        count = count.scalar_one()
    engine.dispose()
    return count


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50, help="per client and page")
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean seconds between a user's clicks"
    )
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="measure on this PostgreSQL server")
    parser.add_argument(
        "--processes", type=int, default=1,
        help="desk processes (1: as rectify run; N: as rectify serve --workers N)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, help="pages at once per desk process (RECTIFY_DESK_THREADS)"
    )
    parser.add_argument("--serve", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        url, home, port, processes = args.serve
        serve(url, home, int(port), int(processes))
        return

    if importlib.util.find_spec("aiohttp") is None:
        parser.error("the clients need aiohttp: .venv/bin/pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory(prefix="rectify-desk-bench-") as folder:
        work_dir = Path(folder)
        databases = Databases(work_dir, args.postgres)
        try:
            print("building the ledger…", file=sys.stderr)
            started = time.perf_counter()
            url = databases.create("desk")
            build(url, args.tasks)
            enrich(url)
            databases.settle("desk")
            print(f"built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            work = plan(url, args.requests, seed=8)
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
            if args.threads:
                env["RECTIFY_DESK_THREADS"] = str(args.threads)
            server = subprocess.Popen(
                [sys.executable, __file__, "--serve", url, str(work_dir / "home"), str(port),
                 str(args.processes)],
                env=env, start_new_session=True, cwd=Path(__file__).resolve().parents[1],
            )  # fmt: skip
            try:
                wait_for_port(port, server)
                base = f"http://127.0.0.1:{port}"
                results = asyncio.run(measure_loads(base, work, args.requests, args.think))
                peak = sum(peak_mb(pid) for pid in [server.pid, *descendants(server.pid)])
            finally:
                server.send_signal(signal.SIGINT)
                server.wait(timeout=30)
            approved = signed_off_now(url) - work["signed_off"]
        finally:
            if args.postgres:
                databases.drop()
    report(args, results, peak, approved)


def wait_for_port(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the desk exited before it answered")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the desk did not answer within 60 s")


def report(args, results: dict[float, dict[str, dict]], peak: float, approved: int) -> None:
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nthe desk, {args.tasks:,} tasks, {CLIENTS} concurrent clients, {database}, "
          f"{args.processes} desk process{'es' if args.processes > 1 else ''}, "
          f"{args.threads or 'default'} page threads each")  # fmt: skip
    for think, pages in results.items():
        load = f"think time {think:g} s on average" if think else "no think time (saturation)"
        print(f"\n{load}")
        print(f"{'page':<26} {'requests':>8} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}"
              f" {'req/s':>7}  p95 < 100 ms")  # fmt: skip
        for name, run in pages.items():
            latencies = run["latencies"]
            p95 = percentile(latencies, 0.95) * 1000
            median = statistics.median(latencies) * 1000
            rate = len(latencies) / run["seconds"]
            verdict = "met" if p95 < 100 else "MISSED"
            print(f"{name:<26} {len(latencies):>8,} {median:>10.1f} {p95:>8.1f}"
                  f" {max(latencies) * 1000:>8.1f} {rate:>7.0f}  {verdict}")  # fmt: skip
        beside = pages[BESIDE]
        print(f"(beside the ledger's readers: {beside['approved']:,} approvals, "
              f"{beside['approved'] / beside['seconds']:.0f} a second)")  # fmt: skip
    expected = sum(
        len(pages["approval"]["latencies"]) + pages[BESIDE]["approved"]
        for pages in results.values()
    )
    print(f"\napprovals recorded: {approved:,} of {expected:,}; "
          f"desk peak RSS {peak:.0f} MB (summed over its processes)")  # fmt: skip
    if approved != expected:
        raise SystemExit("approvals went missing or were applied twice: the run is void")


if __name__ == "__main__":
    main()
