"""The web desk as the composition root builds it, and `rectify user`: who may sign in."""

import gc
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI
from sqlmodel import Session

from cli.common import console, now, unit_of_work
from flows.ledger_export import export_closed, export_ledger
from models.accounts import set_password
from models.directory import find_person, parse_roles
from models.errors import BadInput, NotFound
from models.people import Person
from models.settings import Settings
from web.app import create_app

user_app = typer.Typer(help="登录账号：添加账号、设置密码", no_args_is_help=True)


def _ledger(session: Session, path: Path, today: date) -> int:
    return export_ledger(session, path, today)


def _closed(session: Session, path: Path, _today: date) -> int:
    return export_closed(session, path)


def desk_app(current: Settings) -> FastAPI:
    """The desk with the ledger exports it offers (document writers live in flows/)."""
    return create_app(current, writers={"ledger": _ledger, "closed": _closed})


DESK_FACTORY = "cli.desk:desk_from_environment"  # what each desk process imports and builds


def desk_from_environment() -> FastAPI:
    """What each desk process serves: the desk on the settings of its environment."""
    app = desk_app(Settings())
    settle_for_serving()
    return app


def settle_for_serving() -> None:
    """Fewer garbage collections in the long-running process that serves the desk.

    With Python's defaults a full collection walked every object the desk had built up
    (templates, SQLAlchemy's caches) every few hundred pages: 150-400 ms pauses that
    were the slowest answers under load. What exists at start-up is frozen out of
    collection, and the youngest generation is collected 30 times less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(help="登录邮箱（已在人员名单中的人，或新的人员）")],
    name: Annotated[str | None, typer.Option(help="姓名：邮箱不在人员名单中时新建此人")] = None,
    role: Annotated[
        str | None, typer.Option(help="角色，如 系统管理员（新建时必填；多个用、分隔）")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="密码（至少 8 位）；不填则提示输入", envvar="RECTIFY_NEW_PASSWORD"),
    ] = None,
) -> None:
    """给人员开通登录账号或重设密码；第一位系统管理员也由此创建。"""
    email = email.strip().lower()
    if "@" not in email:
        raise BadInput(f"登录名须为邮箱：“{email}”")
    if password is None:
        password = typer.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    with unit_of_work() as (session, _):
        moment = now()
        try:
            person = find_person(session, email)
            created = False
        except NotFound:
            if not name or not role:
                raise BadInput(
                    f"人员名单中没有 {email}：新建人员须同时给出 --name 和 --role"
                ) from None
            person = Person(name=name.strip(), email=email, created_at=moment)
            created = True
        if role:
            roles, _, unknown = parse_roles(role)
            if unknown:
                raise BadInput(f"未知的角色：{'、'.join(unknown)}")
            person.set_roles(person.roles | roles)
        session.add(person)
        session.flush()
        set_password(session, person, moment, password=password)
        label = "已新建人员并开通账号" if created else "已开通账号（或重设密码）"
    console.print(f"{label}：{person.name} <{email}>")
