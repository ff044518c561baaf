"""The `rectify` command: the composition root that wires settings, database and domain.

Each command group lives in its own module; this one assembles them and turns every
failure into one clear line and a non-zero exit code.
"""

import os
import re
import sys

import typer
from pydantic import ValidationError
from rich.text import Text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from typer.exceptions import TyperException

from cli.calendar import calendar_app
from cli.common import errors
from cli.desk import user_app
from cli.documents import export_app, import_app
from cli.flows import deploy, flow_app
from cli.ledger import audit_app, ledger_app
from cli.mail import mail_app
from cli.run import run
from cli.serve import serve
from cli.setup import init, inspection_app, people_app
from cli.tasks import task_app
from models.errors import RectifyError

app = typer.Typer(
    help="Rectify：巡察整改工作平台（整改台账、销号流程、提醒、调度与回头看）",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(init)
app.command()(run)
app.command()(deploy)
app.command()(serve)
app.add_typer(people_app, name="people")
app.add_typer(user_app, name="user")
app.add_typer(task_app, name="task")
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")
app.add_typer(inspection_app, name="inspection")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(calendar_app, name="calendar")
app.add_typer(mail_app, name="mail")
app.add_typer(flow_app, name="flow")


# --- entry point -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run a command; every failure is one clear line on stderr and a non-zero exit code."""
    try:
        result = app(args=argv, prog_name="rectify", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        errors.print("已取消")
        return 130
    except TyperException as error:  # usage errors: a missing option, an unknown command
        if type(error).__name__ == "NoArgsIsHelpError":
            return 0  # the help has been shown
        fail("用法错误：", usage_message(error))
        return 2
    except RectifyError as error:
        fail("错误：", f"{error}")
        return 1
    except ValidationError as error:
        first = error.errors()[0]
        fail("配置错误：", f"RECTIFY_{str(first['loc'][0]).upper()}：{first['msg']}")
        return 2
    except OperationalError as error:
        fail("数据库错误：", f"{str(error.orig).strip().splitlines()[0]}")
        return 1
    except SQLAlchemyError as error:
        fail("数据库错误：", f"{str(error).strip().splitlines()[0]}")
        return 1
    except OSError as error:
        fail("文件错误：", f"{error}")
        return 1
    except Exception as error:  # the last line of defence: still one line, never a traceback
        if os.environ.get("RECTIFY_DEBUG"):
            raise
        fail("内部错误：", f"{type(error).__name__}: {error}（设置 RECTIFY_DEBUG=1 查看详情）")
        return 70


def usage_message(error: TyperException) -> str:
    """The parser's complaint in Chinese where we know it, with where to find help."""
    kind = type(error).__name__
    param = getattr(error, "param", None)
    option = "/".join(getattr(param, "opts", None) or [])
    name = option if option.startswith("-") else option.upper()  # an argument, like TASK_ID
    unknown_command = re.match(r"No such command '(.*)'", error.format_message())
    if kind == "MissingParameter" and name:
        message = f"缺少 {name}"
    elif kind == "NoSuchOption":
        message = f"没有选项 {getattr(error, 'option_name', '')}"
    elif kind == "BadParameter" and name:
        message = f"{name} 的值不正确"
    elif unknown_command:
        message = f"没有命令“{unknown_command.group(1)}”"
    else:
        message = error.format_message()
    ctx = getattr(error, "ctx", None)
    command = ctx.command_path if ctx is not None else "rectify"
    return f"{message}；运行“{command} --help”查看用法"


def fail(label: str, message: str) -> None:
    errors.print(Text.assemble((label, "red"), message))


def entry() -> None:
    sys.exit(main())
