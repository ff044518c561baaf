"""The ledger (filtered, paged, exported) and the board (挂图作战)."""

import tempfile
from pathlib import Path
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from models.access import LEDGER_READERS
from models.board import STAGE_ORDER, board
from models.errors import BadInput, NotFound
from models.ledger import DeadlineClass
from models.lights import Light
from models.stages import Stage
from models.views import PER_PAGE, LedgerFilter, filter_choices, ledger_page
from web.charts import board_charts
from web.desk import desk_of, documents_thread, page, reading_as, today_and_calendar

router = APIRouter()
EXPORTS = {"ledger": "整改台账", "closed": "销号台账"}


def _number(text: str | None, what: str) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise BadInput(f"{what}不正确：{text}")
    return int(text)


def _enum(kind, text: str | None, what: str):
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise BadInput(f"{what}不正确：{text}") from None


@router.get("/ledger")
def ledger(request: Request):
    desk = desk_of(request)
    query = request.query_params
    wanted = LedgerFilter(
        area=_number(query.get("area"), "方面"),
        department=_number(query.get("department"), "部门"),
        stage=_enum(Stage, query.get("stage"), "阶段"),
        light=_enum(Light, query.get("light"), "灯色"),
        deadline_class=_enum(DeadlineClass, query.get("class"), "整改类型"),
        campaign=_number(query.get("campaign"), "专项整治"),
    )
    number = _number(query.get("page"), "页码") or 1
    with reading_as(request, LEDGER_READERS, "整改台账") as (session, me):
        today, calendar = today_and_calendar(session, desk.now())
        lines, total = ledger_page(session, me.person, wanted, today, calendar, number)
        kept = {k: v for k, v in query.items() if k != "page" and v}
        return page(
            request, "ledger.html", viewer=me, lines=lines, total=total, page_number=number,
            chosen=wanted, pages=max(1, -(-total // PER_PAGE)),
            query_of=lambda **extra: urlencode({**kept, **extra}),
            choices=filter_choices(session), stages=[s.value for s in Stage],
            lights=[lamp.value for lamp in Light], classes=[c.value for c in DeadlineClass],
            exports=EXPORTS if desk.writers else {},
        )  # fmt: skip


@router.get("/ledger/export/{kind}.xlsx")
async def export(request: Request, kind: str) -> FileResponse:
    """Seconds of work on a large ledger: in the documents' thread, not a page's."""
    return await anyio.to_thread.run_sync(_export, request, kind, limiter=documents_thread())


def _export(request: Request, kind: str) -> FileResponse:
    desk = desk_of(request)
    with reading_as(request, LEDGER_READERS, "整改台账导出") as (session, _):
        writer = desk.writers.get(kind)
        if writer is None or kind not in EXPORTS:
            raise NotFound(f"没有这种导出：{kind}")
        folder = Path(tempfile.mkdtemp(prefix="rectify-export-"))
        path = folder / f"{EXPORTS[kind]}.xlsx"
        today, _ = today_and_calendar(session, desk.now())
        try:
            writer(session, path, today)
        except BaseException:
            _remove(folder)
            raise
    return FileResponse(
        path, filename=path.name,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        background=BackgroundTask(_remove, folder),
    )  # fmt: skip


def _remove(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    folder.rmdir()


@router.get("/board")
def board_page(request: Request):
    desk = desk_of(request)
    with reading_as(request, LEDGER_READERS, "挂图作战") as (session, me):
        today, calendar = today_and_calendar(session, desk.now())
        figures = board(session, today, calendar)
        return page(request, "board.html", viewer=me, figures=figures, today=today,
                    charts=board_charts(figures), stages=STAGE_ORDER)  # fmt: skip
