"""Benchmark: the 整改台账 as Excel — export of a large ledger, import of a filled-in one.

    .venv/bin/python bench/ledger_io.py            # export 100,000 tasks, import 10,000 rows
    .venv/bin/python bench/ledger_io.py --export-tasks 20000 --import-tasks 2000   # quicker
    .venv/bin/python bench/ledger_io.py --postgres postgresql://postgres:postgres@127.0.0.1/postgres
    .venv/bin/python bench/ledger_io.py --compare-openpyxl   # + the rows written by openpyxl

Builds SQLite databases in a temporary folder (or throw-away PostgreSQL databases on the
server given by --postgres) with bulk Core inserts, then runs each
measurement in a fresh subprocess (so the peak RSS is that operation's alone, plus the
interpreter and imports, reported on the "baseline" row) and prints a table. Times are
printed, never asserted; BENCHMARKS.md keeps the numbers.

Import cases, each on a fresh copy of its database and the same file (exported from a
ledger where every task is assigned):
  assign    — every task pending: one ASSIGN per row through the workflow
  reassign  — every task assigned with another deadline: one REASSIGN per row
  unchanged — the ledger already says what the file says: nothing to do
"""

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.common import FILLER, GIVEN, SURNAMES, Databases, filler_text, peak_mb  # noqa: E402
from models.audit import GENESIS, AuditEvent, AuditHead, event_hash, task_chain  # noqa: E402
from models.db import make_engine, transaction, upgrade  # noqa: E402
from models.ledger import Area, DeadlineClass, Inspection, Measure, Task, TaskSupport  # noqa: E402
from models.people import SYSTEM_NAME, Department, Person, PersonRole, Role  # noqa: E402
from models.records import Evidence, ProgressReport, SignOff  # noqa: E402
from models.stages import Stage  # noqa: E402

NOW = datetime(2026, 9, 14, 1, 30, tzinfo=UTC)
TODAY = date(2026, 9, 14)
TASKS_PER_AREA = 1000
STAGE_MIX = [  # export ledger: stage, share
    (Stage.PENDING, 10),
    (Stage.ASSIGNED, 20),
    (Stage.ACTING, 40),
    (Stage.EVIDENCE, 10),
    (Stage.SIGNED_OFF, 10),
    (Stage.LOOKBACK, 5),
    (Stage.CONSOLIDATED, 5),
]


def build(url: str, tasks: int, kind: str) -> None:
    """A ledger of `tasks` tasks. kind: "mixed" (every stage, for export), "assigned",
    "reassigned" (assigned, every deadline a week later) or "pending" (for import)."""
    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(7)
    names = [s + g1 + g2 for s in SURNAMES for g1 in GIVEN[:6] for g2 in GIVEN[6:9]]
    with engine.begin() as db:
        db.execute(insert(Department), [{"id": i, "name": f"第{i:02d}科"} for i in range(1, 31)])
        people, roles = [], []
        for i, name in enumerate(names[:330], start=1):
            role = Role.LEADER if i <= 30 else Role.OFFICER
            people.append({"id": i, "name": name, "department_id": (i % 30) + 1, "created_at": NOW})
            roles.append({"person_id": i, "role": role})
        people.append({"id": 1000, "name": "整改办", "department_id": None, "created_at": NOW})
        roles.append({"person_id": 1000, "role": Role.OFFICE})
        people.append({"id": 1001, "name": SYSTEM_NAME, "department_id": None, "created_at": NOW})
        roles.append({"person_id": 1001, "role": Role.SYSTEM})
        db.execute(insert(Person), people)
        db.execute(insert(PersonRole), roles)
        db.execute(
            insert(Inspection),
            [{"id": 1, "title": "基准测试巡察组对基准单位的巡察", "created_at": NOW}],
        )
        areas = (tasks + TASKS_PER_AREA - 1) // TASKS_PER_AREA
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
        stages = [s for s, share in STAGE_MIX for _ in range(share)]
        rows, measures, supports, reports, evidence, signoffs = [], [], [], [], [], []
        for t in range(1, tasks + 1):
            stage = {
                "mixed": rng.choice(stages),
                "pending": Stage.PENDING,
            }.get(kind, Stage.ASSIGNED)
            long_term = t % 20 == 0
            deadline = TODAY + timedelta(days=(t * 37) % 360 - 60)
            if kind == "reassigned":
                deadline += timedelta(days=7)
            assigned = stage != Stage.PENDING
            closed = stage in (Stage.SIGNED_OFF, Stage.LOOKBACK, Stage.CONSOLIDATED)
            rows.append(
                {
                    "id": t,
                    "inspection_id": 1,
                    "area_id": (t - 1) // TASKS_PER_AREA + 1,
                    "number": (t - 1) % TASKS_PER_AREA + 1,
                    "title": f"问题{t}：{filler_text(rng, 30)}",
                    "stage": stage,
                    "leader_id": (t % 30) + 1 if assigned else None,
                    "lead_department_id": (t % 30) + 1 if assigned else None,
                    "officer_id": 31 + t % 300 if assigned else None,
                    "deadline": None if long_term or not assigned else deadline,
                    "deadline_class": DeadlineClass.LONG_TERM if long_term else DeadlineClass.DATED,
                    "round": 1 if closed or stage == Stage.EVIDENCE else 0,
                    "submitted_by_id": 31 + t % 300 if closed else None,
                    "submitted_at": NOW - timedelta(days=40) if closed else None,
                    "signed_off_at": NOW - timedelta(days=30) if closed else None,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            measures += [
                {"task_id": t, "number": n, "text": filler_text(rng, 60)} for n in range(1, 4)
            ]
            if assigned:
                supports.append({"task_id": t, "department_id": ((t + 7) % 30) + 1})
            if stage == Stage.ACTING:
                reports.append(
                    {
                        "task_id": t,
                        "reporter_id": 31 + t % 300,
                        "at": NOW - timedelta(days=3),
                        "status": "in_progress",
                        "text": filler_text(rng, 60),
                    }
                )
            if closed:
                evidence.append(
                    {
                        "task_id": t,
                        "sha256": f"{t:064x}",
                        "name": f"佐证{t}.pdf",
                        "content_type": "application/pdf",
                        "size": 1024,
                        "uploaded_by_id": 31 + t % 300,
                        "uploaded_at": NOW - timedelta(days=41),
                    }
                )
                signoffs.append(
                    {
                        "task_id": t,
                        "round": 1,
                        "phase": 1,
                        "decision": "approved",
                        "signer_id": 1000,
                        "at": NOW - timedelta(days=30),
                        "evidence_hashes": [f"{t:064x}"],
                    }
                )
        events, heads = [], []
        if kind != "mixed":  # tasks as the notice import leaves them: each opens its chain
            for t in range(1, tasks + 1):
                event = {
                    "chain": task_chain(t),
                    "seq": 1,
                    "task_id": t,
                    "action": "create",
                    "actor_id": 1001,
                    "actor_name": SYSTEM_NAME,
                    "at": NOW,
                    "stage_from": None,
                    "stage_to": Stage.PENDING.value,
                    "details": "{}",
                    "prev_hash": GENESIS,
                }
                event["hash"] = event_hash(SimpleNamespace(**event))
                events.append(event)
                heads.append({"chain": event["chain"], "seq": 1, "hash": event["hash"]})
        for model, batch in (
            (Task, rows),
            (AuditEvent, events),
            (AuditHead, heads),
            (Measure, measures),
            (TaskSupport, supports),
            (ProgressReport, reports),
            (Evidence, evidence),
            (SignOff, signoffs),
        ):
            if batch:
                db.execute(insert(model), batch)
        if db.dialect.name == "postgresql":  # the ids above were given, not drawn
            for table in ("department", "person", "inspection", "area", "task"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                db.execute(text(f"SELECT setval({sequence}, max(id)) FROM {table}"))
    engine.dispose()


# --- measurements, each in its own process ---------------------------------------------


def child(operation: str, url: str, path: str) -> None:
    from flows.ledger_export import export_closed, export_ledger
    from flows.ledger_import import import_ledger, read_ledger_rows
    from models.directory import system_actor

    engine = make_engine(url) if "://" in url else None  # the openpyxl case passes a count
    started = time.perf_counter()
    rows, detail = 0, ""
    if operation == "baseline":
        pass
    elif operation == "export":
        with Session(engine) as session:
            rows = export_ledger(session, Path(path), TODAY)
    elif operation == "export-closed":
        with Session(engine) as session:
            rows = export_closed(session, Path(path))
    elif operation == "openpyxl":
        rows = openpyxl_write_only(Path(path), int(url))
    elif operation == "read":
        rows = len(read_ledger_rows(Path(path)))
    else:
        with transaction(engine) as session:
            result = import_ledger(session, Path(path), system_actor(session, NOW), NOW)
        rows = result.assigned + result.reassigned + result.unchanged
        detail = f"assigned {result.assigned}, reassigned {result.reassigned}"
        detail += f", unchanged {result.unchanged}"
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak_mb(), "detail": detail}))


def openpyxl_write_only(path: Path, count: int) -> int:
    """The alternative the exporter does not take: every cell through openpyxl's write-only
    mode, styled like the ledger's grid (14 cells a row, as in the ledger)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, NamedStyle, Side

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("整改台账")
    thin = Side(style="thin")
    grid = NamedStyle(
        "grid",
        border=Border(left=thin, right=thin, top=thin, bottom=thin),
        alignment=Alignment(wrap_text=True, vertical="center"),
    )
    workbook.add_named_style(grid)
    measures = "\n".join(f"{n}. {FILLER[:60]}" for n in (1, 2, 3))
    for i in range(count):
        values = [f"{i // 1000}.{i % 1000}", FILLER[:30], FILLER[:40], measures, "王伟强"]
        values += [
            "第01科",
            "第02科",
            "李静强",
            TODAY,
            "限期整改",
            FILLER[:60],
            "整改中",
            "绿灯",
            i,
        ]
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value)
            cell.style = "grid"
            cells.append(cell)
        sheet.append(cells)
    workbook.save(path)
    return count


def measure(operation: str, url: str, path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", operation, url, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{operation} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def resave_with_libreoffice(path: Path, folder: Path) -> Path | None:
    """Open and save the file in LibreOffice (shared strings, its own styles), if installed."""
    soffice = shutil.which("soffice")
    if soffice is None:
        return None
    convert = ["--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(folder)]
    subprocess.run(
        [soffice, "--headless", *convert, str(path)],
        capture_output=True,
        check=True,
        timeout=600,
    )
    return folder / path.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--export-tasks", type=int, default=100_000)
    parser.add_argument("--import-tasks", type=int, default=10_000)
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="measure on this PostgreSQL server")
    parser.add_argument(
        "--compare-openpyxl",
        action="store_true",
        help="also time the export's rows written cell by cell with openpyxl (slow)",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    results: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as folder:
        work = Path(folder)
        databases = Databases(work, args.postgres)
        try:
            print("building databases…", file=sys.stderr)
            started = time.perf_counter()
            build(databases.create("mixed"), args.export_tasks, "mixed")
            for kind in ("assigned", "pending", "reassigned"):
                build(databases.create(kind), args.import_tasks, kind)
            print(f"built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            mixed, nowhere = databases.url("mixed"), databases.url("mixed")

            results.append(
                ("baseline (interpreter and imports)", measure("baseline", nowhere, work))
            )
            results.append(
                (
                    f"export ledger, {args.export_tasks:,} tasks",
                    measure("export", mixed, work / "ledger.xlsx"),
                )
            )
            results.append(
                (
                    f"export closed ledger, of {args.export_tasks:,} tasks",
                    measure("export-closed", mixed, work / "closed.xlsx"),
                )
            )
            if args.compare_openpyxl:
                results.append(
                    (
                        f"openpyxl write-only, every cell styled, {args.export_tasks:,} rows",
                        measure("openpyxl", str(args.export_tasks), work / "openpyxl.xlsx"),
                    )
                )
            filled = work / "filled.xlsx"
            measure("export", databases.url("assigned"), filled)
            results.append(
                (
                    f"read filled ledger, {args.import_tasks:,} rows",
                    measure("read", nowhere, filled),
                )
            )
            for kind, label in (
                ("pending", "import: assign every task"),
                ("reassigned", "import: change every deadline"),
                ("assigned", "import: nothing changed"),
            ):
                copy = databases.copy(kind, f"{kind}_run")
                results.append(
                    (f"{label}, {args.import_tasks:,} rows", measure("import", copy, filled))
                )
            # The file as a person hands it back: opened and saved by a spreadsheet program.
            resaved = resave_with_libreoffice(filled, work / "resaved")
            if resaved is not None:
                results.append(
                    (
                        f"read, re-saved by LibreOffice, {args.import_tasks:,} rows",
                        measure("read", nowhere, resaved),
                    )
                )
                copy = databases.copy("assigned", "assigned_resaved")
                results.append(
                    (
                        f"import, re-saved by LibreOffice, nothing changed, {args.import_tasks:,}",
                        measure("import", copy, resaved),
                    )
                )
            sizes = {
                name: (work / name).stat().st_size / 2**20
                for name in ("ledger.xlsx", "filled.xlsx")
            }
        finally:
            databases.drop()

    print()
    print(f"database: {'PostgreSQL' if args.postgres else 'SQLite'}")
    print("| operation | rows | seconds | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for label, r in results:
        print(f"| {label} | {r['rows']:,} | {r['seconds']:.2f} | {r['peak_mb']:.0f} |")
    print()
    for label, r in results:
        if r["detail"]:
            print(f"{label}: {r['detail']}")
    print(", ".join(f"{name} {mb:.1f} MB" for name, mb in sizes.items()))


if __name__ == "__main__":
    main()
