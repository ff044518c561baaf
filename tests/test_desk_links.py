"""Mail links: a reminder's link opens that task for its reader, read-only, and nothing else."""

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from cli.desk import desk_app
from models.settings import Settings
from notifications.links import LinkSigner, load_secret, task_url
from notifications.outbox import compose
from notifications.render import TaskRef

EXPIRED_AFTER = 15 * 24 * 3600  # longer than a link lives


@pytest.fixture
def desk(demo):
    client = TestClient(desk_app(Settings()), follow_redirects=False)
    client.signer = LinkSigner(load_secret(demo.home))
    return client


def _task_of(demo, officer: str) -> int:
    sql = "SELECT t.id FROM task t JOIN person p ON p.id = t.officer_id WHERE p.name = :name"
    return demo.scalar(sql + " ORDER BY t.id LIMIT 1", name=officer)


def _person(demo, name: str) -> int:
    return demo.scalar("SELECT id FROM person WHERE name = :name", name=name)


def test_a_link_from_a_message_opens_the_task_for_its_reader_read_only(demo, desk):
    officer = _person(demo, "何静怡")
    task_id = _task_of(demo, "何静怡")

    landed = desk.get(f"/tasks/{task_id}", params={"k": desk.signer.token(officer)})

    assert landed.status_code == 303
    assert landed.headers["location"] == f"/tasks/{task_id}"  # the token leaves the URL
    page = desk.get(f"/tasks/{task_id}")
    assert page.status_code == 200
    assert "通过邮件链接查看" in page.text
    assert 'data-action="' not in page.text  # no buttons: acting needs a sign-in
    assert desk.get("/my").status_code == 303  # the link opens task pages, not the desk
    before = demo.scalar("SELECT version FROM task WHERE id = :id", id=task_id)
    posted = desk.post(f"/tasks/{task_id}/do/start", data={"csrf": "x"})
    assert posted.status_code == 403
    assert demo.scalar("SELECT version FROM task WHERE id = :id", id=task_id) == before


def test_a_link_never_opens_someone_elses_task(demo, desk):
    reader = _person(demo, "何静怡")
    theirs = _task_of(demo, "刘雨桐")

    landed = desk.get(f"/tasks/{theirs}", params={"k": desk.signer.token(reader)})

    assert landed.status_code == 303
    shown = desk.get(f"/tasks/{theirs}")
    assert shown.status_code == 404  # the token says who reads; what they may read is theirs
    assert "刘雨桐" not in shown.text


@pytest.mark.parametrize("kind", ["forged", "expired", "other key"])
def test_a_bad_or_old_token_is_refused_with_a_way_to_sign_in(demo, desk, kind, monkeypatch):
    reader = _person(demo, "何静怡")
    task_id = _task_of(demo, "何静怡")
    token = {
        "forged": desk.signer.token(reader)[:-3] + "abc",
        "expired": desk.signer.token(reader),
        "other key": LinkSigner("some other installation").token(reader),
    }[kind]
    if kind == "expired":
        real = LinkSigner.read
        monkeypatch.setattr(LinkSigner, "read", lambda self, t: real(self, t, max_age=-1))

    answer = desk.get(f"/tasks/{task_id}", params={"k": token})

    assert answer.status_code == 400
    assert "链接无效或已过期" in answer.text
    assert f"/login?next=/tasks/{task_id}" in answer.text
    assert desk.get(f"/tasks/{task_id}").status_code == 303


def test_messages_composed_for_a_person_carry_a_token_the_desk_accepts(demo, desk):
    reader = _person(demo, "何静怡")
    task_id = _task_of(demo, "何静怡")
    person = type("Addressee", (), {"id": reader, "email": "hejingyi@qingchuan-water.example.cn"})

    draft = compose(
        key="t", kind="approved", person=person, send_after=datetime.now(UTC),
        base_url="http://127.0.0.1:8000", links=desk.signer,
        context={"person_name": "何静怡", "task": TaskRef(task_id, "标题", "1.1"),
                 "actor_name": "许文博"},
    )  # fmt: skip

    link = re.search(r"http://127\.0\.0\.1:8000(/tasks/\d+\?k=[\w.\-]+)", draft.rendered.text)
    assert link is not None
    assert desk.get(link.group(1)).status_code == 303
    assert "通过邮件链接查看" in desk.get(f"/tasks/{task_id}").text
    assert task_url("http://h/", 5) == "http://h/tasks/5"
