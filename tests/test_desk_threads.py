"""The desk builds pages in Settings.desk_threads threads, and an export waits for a thread
of its own: a ledger export that takes its time does not stop anyone's pages."""

import asyncio
import threading

import anyio.to_thread
import httpx

from tests.desk_harness import PASSWORD, cast, csrf_of, make_desk

WAIT = 20  # seconds: far beyond what an answer takes here, so only a hang reaches it


def test_a_slow_export_leaves_the_pages_answering(engine, world, now):
    people = cast(world)
    inside, release = threading.Event(), threading.Event()

    def slow_writer(_session, path, _today) -> int:
        inside.set()
        release.wait(WAIT)
        path.write_bytes(b"PK\x03\x04 stand-in workbook")
        return 0

    desk = make_desk(engine, world.home, now, desk_threads=1)
    desk.app.state.desk.writers["ledger"] = slow_writer
    answers: dict[str, object] = {}

    async def visit() -> None:
        async with desk.app.router.lifespan_context(desk.app):
            answers["page threads"] = anyio.to_thread.current_default_thread_limiter().total_tokens
            transport = httpx.ASGITransport(app=desk.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
                form = await client.get("/login")
                signed = await client.post(
                    "/login",
                    data={"login": people["office"].email, "password": PASSWORD,
                          "csrf": csrf_of(form.text)},
                )  # fmt: skip
                assert signed.status_code == 303
                export = asyncio.create_task(client.get("/ledger/export/ledger.xlsx"))
                assert await asyncio.to_thread(inside.wait, WAIT), "the export never started"
                page = await asyncio.wait_for(client.get("/my"), WAIT)
                answers["page while exporting"] = (page.status_code, export.done())
                release.set()
                answers["export"] = (await export).status_code

    try:
        asyncio.run(visit())
    finally:
        release.set()
        desk.close()
    assert answers == {
        "page threads": 1,
        "page while exporting": (200, False),
        "export": 200,
    }
