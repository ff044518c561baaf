"""The queues: sign-offs waiting, look-backs open, dispatch rounds and their answers."""

from fastapi import APIRouter, Request

from models.access import LEDGER_READERS, LOOKBACK_ROLES, SIGNOFF_ROLES
from models.dispatch_tables import DispatchRound
from models.errors import NotFound
from models.views import dispatch_requests, dispatch_rounds, lookback_queue, signoff_queue
from web.desk import desk_of, page, reading_as, today_and_calendar

router = APIRouter()


@router.get("/signoffs")
def signoffs(request: Request):
    with reading_as(request, SIGNOFF_ROLES, "销号审核") as (session, me):
        today, calendar = today_and_calendar(session, desk_of(request).now())
        lines = signoff_queue(session, me.person, today, calendar)
        return page(request, "signoffs.html", viewer=me, lines=lines)


@router.get("/lookbacks")
def lookbacks(request: Request):
    with reading_as(request, LOOKBACK_ROLES, "回头看") as (session, me):
        return page(request, "lookbacks.html", viewer=me, rows=lookback_queue(session, me.person))


@router.get("/dispatch")
def rounds(request: Request):
    with reading_as(request, LEDGER_READERS, "调度") as (session, me):
        return page(request, "dispatch.html", viewer=me, rounds=dispatch_rounds(session))


@router.get("/dispatch/{round_id}")
def one_round(request: Request, round_id: int):
    with reading_as(request, LEDGER_READERS, "调度") as (session, me):
        found = session.get(DispatchRound, round_id)
        if found is None:
            raise NotFound(f"找不到第 {round_id} 号调度")
        rows = dispatch_requests(session, round_id)
        return page(request, "dispatch_round.html", viewer=me, round=found, rows=rows)
