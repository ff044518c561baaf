"""Benchmark: outbox delivery by 1, 2 and 4 Prefect workers on one PostgreSQL, beside the ceiling.

    .venv/bin/python bench/workers.py                       # 20,000 messages a run, 3 rounds
    .venv/bin/python bench/workers.py --messages 5000 --rounds 1 --workers 1,2   # quicker
    .venv/bin/python bench/workers.py --connections 16    # each sender over 16 connections
    .venv/bin/python bench/workers.py --poll 1            # workers query for runs every second

Issue 7. The scaled path for real, on loopback: a Prefect server keeping its state in
PostgreSQL (its scheduler off: the benchmark makes the runs), Rectify's database on the same
PostgreSQL, `rectify deploy`, and for each row exactly that many process workers (`prefect
worker start --limit 1`, querying for runs every 10 s as deployed (--poll); none during the
ceiling). One aiosmtpd sink in its own process (accepts everything, counts), the same one
bench/reminders.py uses. Each round and each width, on a fresh outbox of `--messages`
digests of 3.8 KB (an officer's typical digest, text + HTML), for 50 people:

  ceiling   — the very rows enqueued, serialised up front (untimed), sent over 8 reused
              connections (--connections) from 1 and from 2 processes at once, two ways:
              raw aiosmtplib `sendmail`, and Rectify's own SMTP transport alone (its lean
              transaction, notifications/transports.py). The machine's speed drifts by a
              third within minutes, so the two transport ceilings (the fastest) are
              measured again right before each width's run, and each width is compared
              with the better of those two; raw aiosmtplib once a round, for reference
  N workers — N runs of the deliver_outbox deployment, made once the outbox is filled and
              scheduled 2 × poll + 4 + 4 × N s ahead as a schedule's runs are: each worker
              takes one (limit 1) ahead of its time (its prefetch), starts its process, and
              Prefect holds the run until the time, so the runs start together. Each
              sends over as many connections, all claiming from one outbox. (Runs made to
              start at once began up to 6 s apart: Prefect adds up to 30% jitter to each
              worker's query interval.)

For the workers two clocks are read: "sending" from the sink's first to its last message
(what the target compares with the ceiling), and "end to end" from the runs' scheduled time
to the last message (adds Prefect's start of each run and the run's work before sending);
"last run's start" is how late after its scheduled time the last run began. Machine CPU
(/proc/stat) over the sending window, and each part's share of it (the sink, PostgreSQL,
the flow runs, the Prefect server and workers) say what caps the rate. Times are printed,
never asserted; BENCHMARKS.md keeps the numbers.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import FILLER, free_port
from bench.reminders import Sink
from tests.scaled_harness import (
    ROOT,
    PrefectServer,
    Worker,
    descendants,
    get,
    postgres_database,
    scaled_environment,
    start_run,
    wait_final,
)

PEOPLE = 50
TICK = 0.25  # how often the sink's count and the processes' CPU are read


def rectify(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-c", "import cli; cli.entry()", *args],
        env=env, cwd=ROOT, check=True, capture_output=True, timeout=300,
    )  # fmt: skip


def fill(url: str, count: int, now: datetime) -> None:
    """An empty outbox, then `count` digests of about 3.8 KB due at `now` (untimed)."""
    from sqlalchemy import delete
    from sqlmodel import select

    from models.db import make_engine, transaction
    from models.mail import OutboxAttachment, OutboxBody, OutboxMessage
    from models.people import Person
    from notifications.outbox import Draft, enqueue_many
    from notifications.render import Rendered

    rng = random.Random(7)
    engine = make_engine(url)
    with transaction(engine) as session:
        for table in (OutboxAttachment, OutboxBody, OutboxMessage):
            session.exec(delete(table))
        if not session.exec(select(Person.id).limit(1)).first():
            session.add_all(
                Person(name=f"人员{i}", email=f"p{i}@example.cn", created_at=now)
                for i in range(PEOPLE)
            )
            session.flush()
        people = list(session.exec(select(Person).order_by(Person.id)))
        tag = now.strftime("%H%M%S%f")
        drafts = []
        for i in range(count):
            items = "".join(f"{n}. {FILLER[rng.randrange(40) :][:60]}\n" for n in range(18))
            html = "".join(f"<li>{FILLER[rng.randrange(40) :][:60]}</li>" for _ in range(18))
            rendered = Rendered(f"【整改提醒】第 {i} 封", f"同志：\n{items}", f"<ol>{html}</ol>")
            drafts.append(Draft(f"bench:{tag}:{i}", "digest", people[i % PEOPLE], rendered, now))
        enqueue_many(session, drafts, now)
    engine.dispose()
    with psycopg.connect(url, autocommit=True) as database:  # no autovacuum while measured
        database.execute("VACUUM ANALYZE outbox_message, outbox_body, outbox_attachment")


class Cpu:
    """CPU time used by the machine, and by each process, sampled every TICK: a process that
    ends keeps its last reading."""

    def __init__(self) -> None:
        self.last: dict[int, tuple[str, float]] = {}
        self.ticks = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def machine() -> tuple[float, float]:
        """(busy, total) jiffies over all cores."""
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def sample(self, groups: dict[int, str]) -> None:
        for pid, group in groups.items():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.last[pid] = (group, (int(fields[11]) + int(fields[12])) / self.ticks)

    def by_group(self, since: dict[int, tuple[str, float]]) -> dict[str, float]:
        used: dict[str, float] = defaultdict(float)
        for pid, (group, seconds) in self.last.items():
            used[group] += seconds - since.get(pid, (group, 0.0))[1]
        return used


def process_groups(sink: Sink, server: PrefectServer, workers: list[Worker]) -> dict[int, str]:
    groups = {sink.process.pid: "sink"}
    for pid in [server.process.pid, *descendants(server.process.pid)]:
        groups[pid] = "prefect server"
    for worker in (w for w in workers if w.process is not None):
        groups[worker.process.pid] = "workers (idle polling)"
        for pid in descendants(worker.process.pid):
            groups[pid] = "flow runs (Rectify delivery)"
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() == "postgres":
                groups[int(stat.parent.name)] = "postgresql"
        except OSError:
            continue
    return groups


def lead_time(poll: float, runs: int) -> float:
    """How far ahead `runs` runs are scheduled: a worker queries at least every 1.3 × `poll`
    (Prefect adds up to 30% jitter), then the runs' processes start together and each
    imports Prefect and Rectify, some 4 s of a core (more on a slow day)."""
    return 2 * poll + 4 + 4 * runs


def workers_round(
    api: str, url: str, sink: Sink, server: PrefectServer, workers: list[Worker], n: int, m: int,
    poll: float,
) -> dict:  # fmt: skip
    fill(url, m, datetime.now(UTC))
    before = sink.reading(reset=True)["messages"]
    cpu, groups = Cpu(), None
    lead = lead_time(poll, n)  # counted once filled
    start, scheduled = datetime.now(UTC) + timedelta(seconds=lead), time.monotonic() + lead
    runs = [start_run(api, "deliver_outbox", start=start, at=start.isoformat()) for _ in range(n)]
    while True:
        time.sleep(TICK)
        reading = sink.reading()
        count = reading["messages"] - before
        if groups is None and count > 0:  # the flow runs have started: who is who, once
            groups = process_groups(sink, server, workers)
            machine_start = Cpu.machine()
            cpu.sample(groups)
            start_cpu = dict(cpu.last)
        elif groups is not None:
            cpu.sample(groups)
        if count >= m:
            machine_end = Cpu.machine()
            break
        if time.monotonic() - scheduled > 600:
            raise SystemExit(f"{n} workers: only {count} of {m} messages after 600 s")
    states = [wait_final(api, run) for run in runs]
    if states != ["COMPLETED"] * n:
        raise SystemExit(f"{n} workers: runs ended {states}")
    started = [datetime.fromisoformat(get(api, f"/flow_runs/{run}")["start_time"]) for run in runs]
    first, last = reading["first"], reading["last"]
    busy = machine_end[0] - machine_start[0]
    total = machine_end[1] - machine_start[1]
    window = last - first
    return {
        "messages": m,
        "sending": window,
        "end_to_end": last - scheduled,
        "late": max((moment - start).total_seconds() for moment in started),
        "cores_busy": 2 * busy / total if total else 0.0,
        "shares": {g: s / window for g, s in cpu.by_group(start_cpu).items()},
    }


CEILINGS = {"sendmail": "raw aiosmtplib", "transport": "Rectify's transport alone"}
PAIRED = [("transport", 1), ("transport", 2)]  # the fastest: measured before each width's run
REFERENCE = [("sendmail", 1), ("sendmail", 2)]  # raw aiosmtplib: once a round
CEILING_ROWS = [*REFERENCE, *PAIRED]


def rate(result: dict) -> float:
    """Messages a second over the sink's sending window."""
    return result["messages"] / result["sending"]


def measure_ceiling(
    args, url: str, sink: Sink, how: str, processes: int, number: int, results: dict
) -> float:
    """One ceiling run, kept under its row; returns its rate."""
    print(f"round {number + 1} of {args.rounds}: ceiling {how} ×{processes}", file=sys.stderr)
    got = ceiling_round(url, sink, args.messages, processes, args.connections, how)
    results[f"ceiling {how} {processes}"].append(got | {"round": number})
    return rate(got)


def ceiling_round(url: str, sink: Sink, m: int, processes: int, connections: int, how: str) -> dict:
    """`how` (sendmail, transport) from `processes` processes at once, each a share of the
    rows, built up front and released together; timed by the sink, like the workers."""
    fill(url, m, datetime.now(UTC))
    child = [sys.executable, __file__, "--ceiling-child", url, str(sink.port), str(connections),
             how]  # fmt: skip
    senders = [
        subprocess.Popen(
            [*child, str(part), str(processes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for part in range(processes)
    ]
    for sender in senders:  # each has built its messages
        assert sender.stdout.readline().strip() == "ready"
    before = sink.reading(reset=True)["messages"]
    for sender in senders:
        sender.stdin.write("go\n")
        sender.stdin.flush()
    sent = sum(int(sender.stdout.readline()) for sender in senders)
    for sender in senders:
        sender.wait(timeout=60)
    reading = sink.reading()
    assert sent == m == reading["messages"] - before
    return {"messages": m, "sending": reading["last"] - reading["first"]}


def ceiling_child(url: str, port: int, connections: int, how: str, part: int, parts: int) -> None:
    """One ceiling sender: its share of the pending rows as wire bytes, then `sendmail` or
    Rectify's SmtpTransport (`how`) over `connections` reused connections once told to go."""
    import asyncio
    from collections import deque

    import aiosmtplib
    from sqlmodel import Session, select

    from models.db import make_engine
    from models.mail import OutboxBody, OutboxMessage
    from models.settings import Settings
    from notifications.message import email_bytes
    from notifications.transports import SmtpTransport

    engine = make_engine(url)
    messages: deque = deque()
    now = datetime.now(UTC)
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage, OutboxBody)
            .join(OutboxBody, OutboxBody.message_id == OutboxMessage.id)
            .where(OutboxMessage.id % parts == part)
        )
        for row, body in rows:
            data = email_bytes(row, body, sender="Rectify <rectify@localhost>",
                               domain="localhost", now=now)  # fmt: skip
            messages.append((row.to_address, data))
    engine.dispose()

    async def connection() -> int:
        """One connection's share, sent with `sendmail` or through Rectify's transport."""
        if how == "sendmail":
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="localhost")
            await client.connect()
            send_one = lambda to, data: client.sendmail("rectify@localhost", [to], data)  # noqa: E731
            close = client.quit
        else:
            settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                                mail_domain="localhost")  # fmt: skip
            smtp = SmtpTransport(settings)
            send_one = lambda to, data: smtp.send(0, data, "rectify@localhost", to)  # noqa: E731
            close = smtp.close
        sent = 0
        while messages:
            await send_one(*messages.popleft())
            sent += 1
        await close()
        return sent

    async def send() -> int:
        return sum(await asyncio.gather(*(connection() for _ in range(connections))))

    print("ready", flush=True)
    sys.stdin.readline()
    print(asyncio.run(send()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4", help="the widths to measure")
    parser.add_argument(
        "--postgres", default="postgresql://postgres:postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument(
        "--connections", type=int, default=8, help="SMTP connections per sender (the default)"
    )
    parser.add_argument(
        "--poll", type=float, default=10,
        help="seconds between a worker's queries for runs (10: Prefect's default, as deployed)",
    )  # fmt: skip
    parser.add_argument("--ceiling-child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ceiling_child:
        url, port, connections, how, part, parts = args.ceiling_child
        ceiling_child(url, int(port), int(connections), how, int(part), int(parts))
        return
    widths = [int(w) for w in args.workers.split(",")]
    results: dict[str, list[dict]] = defaultdict(list)
    with (
        tempfile.TemporaryDirectory(prefix="rectify-workers-") as folder,
        postgres_database(args.postgres, "rectify_bench_workers") as url,
        postgres_database(args.postgres, "prefect_bench_workers") as prefect_url,
    ):
        home = Path(folder)
        print("starting the Prefect server…", file=sys.stderr)
        server = PrefectServer(home / "prefect", free_port(), prefect_url).start()
        sink = Sink()
        env = scaled_environment(home / "rectify", url, sink.port, server.api_url, args.connections)
        lead = lead_time(args.poll, max(widths))  # the workers take any row's runs early
        workers = [Worker(f"bench{i}", env, home, poll=args.poll, prefetch=lead)
                   for i in range(max(widths))]  # fmt: skip
        try:
            rectify(env, "init")
            rectify(env, "deploy")
            for number in range(args.rounds):
                running(workers, 0)  # the ceilings with nothing else polling the API
                for how, processes in REFERENCE:
                    measure_ceiling(args, url, sink, how, processes, number, results)
                for n in widths:
                    # paired: the machine's speed drifts by a third within minutes
                    running(workers, 0)
                    paired = [
                        measure_ceiling(args, url, sink, how, processes, number, results)
                        for how, processes in PAIRED
                    ]
                    print(f"round {number + 1}: {n} worker(s)", file=sys.stderr)
                    running(workers, n)
                    got = workers_round(server.api_url, url, sink, server, workers, n,
                                        args.messages, args.poll)  # fmt: skip
                    results[f"{n}"].append(got | {"round": number, "ceiling": max(paired)})
        finally:
            for worker in workers:
                worker.stop()
            sink.stop()
            server.stop()
    report(args, widths, results)


def running(workers: list[Worker], n: int) -> None:
    """Exactly the first `n` workers running (a new one is polling after a few seconds)."""
    for worker in workers[n:]:
        worker.stop()
    started = [worker.start() for worker in workers[:n] if worker.process is None]
    if started:
        time.sleep(5)


def spread(values: list[float], form: str) -> str:
    middle = format(statistics.median(values), form)
    if len(values) == 1:
        return middle
    return f"{middle} ({format(min(values), form)}–{format(max(values), form)})"


def report(args, widths: list[int], results: dict[str, list[dict]]) -> None:
    def rates(key: str) -> list[float]:
        return [rate(r) for r in results[key]]

    # a ceiling run against the best transport ceiling of its round; a width's run against
    # the better of the two measured just before it
    best: dict[int, float] = defaultdict(float)
    for how, processes in PAIRED:
        for r in results[f"ceiling {how} {processes}"]:
            best[r["round"]] = max(best[r["round"]], rate(r))

    def ratios(key: str) -> list[float]:
        return [100 * rate(r) / r.get("ceiling", best[r["round"]]) for r in results[key]]

    print(
        f"\n{args.messages:,} messages of 3.8 KB a run, {args.rounds} round(s), {args.connections} "
        "SMTP connections per sender, one PostgreSQL, one aiosmtpd sink\n"
    )
    print("| sender | sending s | msg/s | of ceiling | end to end s | msg/s end to end | "
          "last run's start s | cores busy (of 2) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for how, processes in CEILING_ROWS:
        key = f"ceiling {how} {processes}"
        sender = f"{CEILINGS[how]}, {processes} process{'es' if processes > 1 else ''}"
        print(f"| ceiling: {sender} | {spread([r['sending'] for r in results[key]], '.2f')} | "
              f"{spread(rates(key), '.0f')} | {spread(ratios(key), '.0f')}% | — | — | — | — |"
              )  # fmt: skip
    for n in widths:
        rows = results[f"{n}"]
        ends = [r["messages"] / r["end_to_end"] for r in rows]
        print(f"| {n} worker{'s' if n > 1 else ''} | {spread([r['sending'] for r in rows], '.2f')}"
              f" | {spread(rates(f'{n}'), '.0f')} | {spread(ratios(f'{n}'), '.0f')}% | "
              f"{spread([r['end_to_end'] for r in rows], '.2f')} | {spread(ends, '.0f')} | "
              f"{spread([r['late'] for r in rows], '+.2f')} | "
              f"{spread([r['cores_busy'] for r in rows], '.2f')} |")  # fmt: skip
    print("\nCPU while sending, in cores (median over the rounds):\n")
    groups = sorted({g for n in widths for r in results[f"{n}"] for g in r["shares"]})
    print("| part | " + " | ".join(f"{n} worker{'s' if n > 1 else ''}" for n in widths) + " |")
    print("|---|" + "---|" * len(widths))
    for group in groups:
        cells = [
            f"{statistics.median(r['shares'].get(group, 0.0) for r in results[f'{n}']):.2f}"
            for n in widths
        ]
        print(f"| {group} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
