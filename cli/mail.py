"""Mail: the outbox, one message, requeueing a failed one, sending what is due."""

from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlmodel import select

from cli.common import (
    JsonOption,
    console,
    engine_for,
    errors,
    now,
    parse_choice,
    print_json,
    settings,
    unit_of_work,
)
from models.calendar import SHANGHAI
from models.db import require_current_schema
from models.errors import NotFound
from models.mail import MESSAGE_STATE_LABELS, MessageState, OutboxBody, OutboxMessage
from notifications.delivery import deliver_due
from notifications.message import build_email
from notifications.outbox import attachments_of, requeue
from notifications.render import KIND_LABELS
from notifications.transports import captured_path

mail_app = typer.Typer(help="邮件：发件箱、查看、重发与发送", no_args_is_help=True)

HEADERS = ("From", "To", "Subject", "Date", "Message-ID")


def _local(moment: datetime | None) -> str:
    return f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if moment else ""


def _when(row: OutboxMessage) -> str:
    """The moment that matters for the row's state."""
    if row.state == MessageState.SENT:
        return _local(row.sent_at)
    if row.state == MessageState.SENDING:
        return _local(row.claimed_at)
    if row.state == MessageState.PENDING:
        return _local(row.send_after)
    return ""


def _summary(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.state,
        "kind": row.kind,
        "to": row.to_address,
        "subject": row.subject,
        "attempts": row.attempts,
        "send_after": row.send_after,
        "sent_at": row.sent_at,
        "last_error": row.last_error,
    }


@mail_app.command("list")
def mail_list(
    state: Annotated[
        str | None, typer.Option(help="只看某一状态（待发送、发送中、已发送、发送失败）")
    ] = None,
    limit: Annotated[int, typer.Option(help="最多显示多少封（最新的在前）", min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """列出发件箱中的邮件。"""
    wanted = parse_choice(state, MESSAGE_STATE_LABELS, "状态") if state else None
    with unit_of_work() as (session, _):
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if wanted is not None:
            query = query.where(OutboxMessage.state == wanted)
        rows = list(session.exec(query))
    if as_json:
        print_json([_summary(row) for row in rows])
        return
    table = Table(expand=True)
    for title, options in (
        ("编号", {"no_wrap": True}),
        ("状态", {"no_wrap": True}),
        ("类型", {"no_wrap": True}),
        ("收件人", {"overflow": "fold"}),
        ("主题", {"ratio": 1, "overflow": "fold"}),
        ("次数", {"no_wrap": True}),
        ("时间", {"no_wrap": True}),
        ("原因", {"ratio": 1, "overflow": "fold"}),
    ):
        table.add_column(title, **options)
    for row in rows:
        table.add_row(
            str(row.id),
            MESSAGE_STATE_LABELS[MessageState(row.state)],
            KIND_LABELS.get(row.kind, row.kind),
            row.to_address or "—",
            row.subject,
            str(row.attempts),
            _when(row),
            (row.last_error or "") if row.state != MessageState.SENT else "",
        )
    console.print(table)
    console.print(f"共 {len(rows)} 封")


@mail_app.command("show")
def mail_show(message_id: int, as_json: JsonOption = False) -> None:
    """显示一封邮件：信头、状态与正文（已保存到本地的，读取保存的 .eml 文件）。"""
    with unit_of_work() as (session, current):
        row = session.get(OutboxMessage, message_id)
        if row is None:
            raise NotFound(f"找不到邮件 {message_id}")
        path = captured_path(current, message_id)
        if path.is_file():
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        elif body := session.get(OutboxBody, row.id):
            moment = row.sent_at or row.created_at
            message = build_email(
                row,
                body,
                sender=current.mail_from,
                domain=current.mail_domain,
                now=moment,
                attachments=attachments_of(session, [row.id]).get(row.id, ()),
            )
            path = None
        else:
            message, path = None, None
    headers = {name: str(message[name]) for name in HEADERS if message and message[name]}
    if path is None and row.state != MessageState.SENT:
        headers.pop("Date", None)  # not sent yet: no date to show
    text = _plain_text(message) if message else ""
    files = [part.get_filename() for part in message.iter_attachments()] if message else []
    if as_json:
        summary = {**_summary(row), "headers": headers, "text": text, "file": path}
        print_json({**summary, "attachments": files})
        return
    say = console.print
    for name, value in headers.items():
        say(f"{name}: {value}", soft_wrap=True)
    say(f"状态：{MESSAGE_STATE_LABELS[MessageState(row.state)]}    尝试次数：{row.attempts}")
    if row.state == MessageState.SENT:
        say(f"发送时间：{_local(row.sent_at)}")
    elif row.state == MessageState.PENDING:
        say(f"计划发送：{_local(row.send_after)}")
    if row.last_error:
        say(f"原因：{row.last_error}", soft_wrap=True)
    if path:
        say(f"文件：{path}", soft_wrap=True)
    if files:
        say(f"附件：{'、'.join(files)}", soft_wrap=True)
    say("")
    say(text.rstrip("\n") or "（无正文）", soft_wrap=True)


def _plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


@mail_app.command("retry")
def mail_retry(message_id: int) -> None:
    """将一封发送失败的邮件重新排队，下次发送时投递。"""
    with unit_of_work() as (session, _):
        row = requeue(session, message_id, now())
        address = row.to_address
    console.print(f"邮件 {message_id} 已重新排队，将在下次发送时投递给 {address}")


@mail_app.command("send")
def mail_send() -> None:
    """立即发送所有到期的邮件，并报告发送结果。"""
    current = settings()
    engine = engine_for(current)
    try:
        require_current_schema(engine)
        report = deliver_due(engine, now(), current)
    finally:
        engine.dispose()
    console.print(
        f"已发送 {report.sent} 封，稍后重试 {report.retried} 封，发送失败 {report.failed} 封"
    )
    if not current.smtp_host and report.sent:
        console.print(
            f"未配置 SMTP 服务器，邮件已保存到 {current.mail_capture_dir}"
            "（用 rectify mail show 编号 查看）",
            soft_wrap=True,
        )
    if report.problem:
        errors.print(f"发送中断：{report.problem}")
        raise typer.Exit(1)
