"""The ledger summary and the audit trail."""

import typer
from rich.text import Text
from sqlmodel import select

from cli.common import (
    JsonOption,
    console,
    errors,
    now,
    print_json,
    unit_of_work,
)
from models import audit
from models.calendar import load_calendar, local_date
from models.lights import LIGHT_LABELS, Light
from models.queries import ledger_summary
from models.stages import STAGE_LABELS, Stage

ledger_app = typer.Typer(help="整改台账", no_args_is_help=True)
audit_app = typer.Typer(help="审计记录", no_args_is_help=True)


# --- ledger and audit ------------------------------------------------------------------


@ledger_app.command("summary")
def ledger_summary_command(as_json: JsonOption = False) -> None:
    """台账概况：方面、任务、措施数，各阶段与各灯的任务数。"""
    with unit_of_work() as (session, _):
        summary = ledger_summary(session, local_date(now()), load_calendar(session))
    if as_json:
        print_json(summary)
        return
    areas, tasks, measures = summary["areas"], summary["tasks"], summary["measures"]
    console.print(f"方面 {areas} 个，整改任务 {tasks} 项，整改措施 {measures} 条")
    stages = "，".join(f"{STAGE_LABELS[Stage(s)]} {n}" for s, n in summary["by_stage"].items())
    lights = "，".join(f"{LIGHT_LABELS[Light(k)]} {n}" for k, n in summary["by_light"].items())
    console.print(f"按阶段：{stages}")
    console.print(f"按灯：{lights}")


@audit_app.command("verify")
def audit_verify() -> None:
    """核验审计记录是否完整、未被篡改；发现问题时以非零状态退出。"""
    with unit_of_work() as (session, _):
        problems = audit.verify(session)
        count = len(session.exec(select(audit.AuditEvent.id)).all())
    if problems:
        for problem in problems:
            errors.print(Text.assemble(("篡改 ", "red"), str(problem)))
        errors.print(f"审计记录核验未通过：发现 {len(problems)} 处问题")
        raise typer.Exit(1)
    console.print(f"审计记录完整：{count} 条事件核验通过")
