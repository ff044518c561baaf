"""Mail templates: every kind in Chinese, HTML escaped, nothing a user typed becomes a header."""

import re
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from flows.dispatch_report import report_context
from models.mail import OutboxBody, OutboxMessage
from notifications.message import build_email, email_bytes, message_id
from notifications.render import KINDS, DigestItem, DispatchItem, RenderError, TaskRef, render

NOW = datetime(2026, 9, 14, 0, 30, tzinfo=UTC)
CJK = re.compile(r"[\u4e00-\u9fff]")
TASK = TaskRef(id=7, number="2.3", title="河道垃圾清理不彻底")


def context_for(kind: str, task: TaskRef = TASK, **overrides) -> dict:
    if kind == "digest":
        values = {
            "person_name": "李明",
            "day": date(2026, 9, 14),
            "items": [
                DigestItem(task, "red", date(2026, 9, 10), -2, "责任人"),
                DigestItem(TaskRef(8, "水质监测不到位", "2.4"), "yellow", date(2026, 9, 18), 4),
                DigestItem(TaskRef(9, "长效机制建设", "3.1"), "none", None, None),
            ],
        }
    elif kind == "dispatch_report":
        values = {
            "person_name": "李明",
            **report_context(report_summary(task), base_url="http://127.0.0.1:8000",
                             closed_on=date(2026, 10, 15), sheet="2026年第四季度调度表.xlsx"),
            "charts": [],
            "charts_missing": None,
        }  # fmt: skip
    elif kind.startswith("dispatch_"):
        values = {
            "person_name": "李明",
            "round_title": "2026年第四季度调度",
            "due": date(2026, 10, 14),
            "day": 3,
            "items": [
                DispatchItem(task, date(2026, 9, 30), officer="王芳", department="市文旅局"),
                DispatchItem(TaskRef(9, "长效机制建设", "3.1"), None),
            ],
        }
    else:
        values = {
            "person_name": "李明",
            "task": task,
            "actor_name": "王芳",
            "deadline": date(2026, 10, 30),
            "previous_deadline": date(2026, 9, 30),
            "reason": "佐证材料不足，请补充现场照片",
            "due": date(2026, 12, 28),
            "finding": "河道再次出现垃圾堆积",
        }
    return {**values, **overrides}


def report_summary(task: TaskRef) -> dict:
    """A round's snapshot (models.dispatch.snapshot's shape) with this task overdue."""
    row = {"task_id": task.id, "number": task.number, "area": "生态环境方面", "title": task.title,
           "department": "市文旅局", "officer": "王芳", "deadline": "2026-09-30",
           "answer": "unanswered", "overdue": True, "rebounds": 1}  # fmt: skip
    return {
        "round": {"id": 4, "number": 4, "title": "2026年第四季度调度"},
        "previous": None,
        "by_status": {"unanswered": 1},
        "by_area": {"生态环境方面": {"unanswered": 1}},
        "by_department": {"市文旅局": {"unanswered": 1}},
        "rows": [row],
        "overdue": [row],
        "rebounds": [row],
    }


def outbox_row(subject: str) -> OutboxMessage:
    return OutboxMessage(
        id=41,
        key="assigned:7:12",
        kind="assigned",
        to_address="liming@example.cn",
        subject=subject,
        send_after=NOW,
        created_at=NOW,
    )


SENDER = "整改办 <zgb@example.cn>"
BODY = OutboxBody(message_id=41, text="正文", html="<p>正文</p>")


def wire_bytes(kind: str, title: str) -> tuple[EmailMessage, bytes]:
    """Render a message about a task with this title and return it as sent on the wire."""
    rendered = render(kind, context_for(kind, TaskRef(id=7, number="2.3", title=title)))
    row = outbox_row(rendered.subject)
    body = OutboxBody(message_id=41, text=rendered.text, html=rendered.html)
    data = email_bytes(row, body, sender=SENDER, domain="example.cn", now=NOW)
    return BytesParser(policy=policy.default).parsebytes(data), data


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_a_chinese_subject_text_and_html(kind):
    rendered = render(kind, context_for(kind))

    assert CJK.search(rendered.subject)
    assert "\n" not in rendered.subject
    assert "李明同志" in rendered.text
    assert "http://127.0.0.1:8000/tasks/7" in rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in rendered.html
    assert 'href="http://127.0.0.1:8000/tasks/7"' in rendered.html
    assert "河道垃圾清理不彻底" in rendered.text + rendered.html


def text_of(kind: str, **overrides) -> str:
    return render(kind, context_for(kind, **overrides)).text


def test_event_messages_carry_their_particulars():
    assert "退回理由：佐证材料不足，请补充现场照片" in text_of("rejected")
    assert "新的整改时限：2026年10月30日（原时限：2026年9月30日）" in text_of("extension_granted")
    assert "理由：佐证材料不足" in text_of("extension_refused")
    assert "2026年12月28日 前" in text_of("lookback_assigned")
    assert "核查发现：河道再次出现垃圾堆积" in text_of("rebound")
    assert "整改时限：长期坚持" in text_of("assigned", deadline=None)


def test_a_digest_lists_every_item_with_its_light_deadline_and_days():
    rendered = render("digest", context_for("digest"))

    assert rendered.subject == (
        "【整改提醒】您有 3 项整改事项需要关注，其中 1 项已逾期（2026年9月14日）"
    )
    text = rendered.text
    assert "1. [红灯] 2.3 河道垃圾清理不彻底" in text
    assert "整改时限：2026年9月10日；已逾期 2 个工作日；您是责任人" in text
    assert "2. [黄灯] 2.4 水质监测不到位" in text
    assert "剩余 4 个工作日" in text
    assert "3. [—] 3.1 长效机制建设" in text
    for task_id in (7, 8, 9):
        assert f"http://127.0.0.1:8000/tasks/{task_id}" in text
        assert f'href="http://127.0.0.1:8000/tasks/{task_id}"' in rendered.html
    assert "已逾期 2 个工作日" in rendered.html


def test_a_long_list_shared_by_several_digests_renders_once_and_reads_the_same():
    items = [DigestItem(TaskRef(i, f"问题{i}", f"1.{i}"), "red", date(2026, 9, 1), -10, "领导小组")
             for i in range(60)]  # fmt: skip
    shared: dict = {}

    alone = render("digest", {"person_name": "王强", "day": date(2026, 9, 14), "items": items})
    first = render("digest", {"person_name": "王强", "day": date(2026, 9, 14), "items": items,
                              "shared": shared})  # fmt: skip
    second = render("digest", {"person_name": "赵敏", "day": date(2026, 9, 14),
                               "items": list(items), "shared": shared})  # fmt: skip

    assert first == alone
    assert second.text == alone.text.replace("王强", "赵敏")
    assert second.html == alone.html.replace("王强", "赵敏")
    assert sorted(form for form, *_ in shared) == ["html", "txt"]  # one of each, reused


def test_each_reader_of_a_shared_list_gets_links_with_their_own_token():
    items = [DigestItem(TaskRef(i, f"问题{i}", f"1.{i}"), "red", date(2026, 9, 1), -10, "领导小组")
             for i in range(60)]  # fmt: skip
    shared: dict = {}
    day = date(2026, 9, 14)

    first = render("digest", {"person_name": "王强", "day": day, "items": items,
                              "shared": shared, "link_token": "TOKEN-A"})  # fmt: skip
    second = render("digest", {"person_name": "赵敏", "day": day, "items": items,
                               "shared": shared, "link_token": "TOKEN-B"})  # fmt: skip
    bare = render("digest", {"person_name": "赵敏", "day": day, "items": items, "shared": shared})

    for rendered, token in ((first, "TOKEN-A"), (second, "TOKEN-B")):
        assert rendered.text.count("/tasks/") == rendered.text.count(f"?k={token}") == 60
        assert rendered.html.count(f'?k={token}"') == 60
    assert "TOKEN-A" not in second.text + second.html
    assert "?k=" not in bare.text + bare.html


def test_links_use_the_configured_base_url():
    rendered = render("approved", context_for("approved"), base_url="https://zg.example.gov.cn")

    assert "https://zg.example.gov.cn/tasks/7" in rendered.text
    assert 'href="https://zg.example.gov.cn/tasks/7"' in rendered.html


@pytest.mark.parametrize("kind", KINDS)
def test_markup_in_a_title_name_or_reason_is_escaped_in_html(kind):
    script = "<script>alert('x')</script>"
    task = TaskRef(id=7, number="2.3", title=f"{script}整改")
    context = context_for(kind, task, person_name="<b>李明</b>")
    if kind != "digest":
        context.update(actor_name=script, reason=script, finding=script)

    rendered = render(kind, context)

    assert "<script>" not in rendered.html
    assert "<b>李明</b>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert script in rendered.text  # plain text shows what was typed, as text


@pytest.mark.parametrize("kind", KINDS)
def test_subjects_are_one_line_whatever_the_title_contains(kind):
    title = "整改\r\n第二行\n第三行\r第四行\u2028第五行\x00\x1b\t末尾"
    rendered = render(kind, context_for(kind, TaskRef(id=7, number="2.3", title=title)))

    assert re.search(r"[\x00-\x1f\x7f\u2028\u2029]", rendered.subject) is None
    assert "  " not in rendered.subject


def test_cr_lf_in_a_title_does_not_create_a_header():
    title = "整改\r\nBcc: spy@evil.cn\r\nX-Injected: yes\r\n\r\n<h1>正文</h1>"

    for kind in KINDS:
        parsed, data = wire_bytes(kind, title)

        assert parsed["Bcc"] is None
        assert parsed["X-Injected"] is None
        assert b"\r\nBcc:" not in data
        assert b"\r\nX-Injected:" not in data
        assert set(parsed.keys()) >= {"From", "To", "Subject", "Date", "Message-ID"}
        assert "\n" not in str(parsed["Subject"])
        assert parsed["To"] == "liming@example.cn"
        assert parsed["Message-ID"] == message_id(outbox_row(""), "example.cn")


def test_the_subject_on_the_wire_decodes_to_the_rendered_subject():
    parsed, _ = wire_bytes("assigned", "河道垃圾清理不彻底")

    assert str(parsed["Subject"]) == "【任务交办】2.3 河道垃圾清理不彻底"
    assert str(parsed["From"]) == "整改办 <zgb@example.cn>"
    assert parsed.get_body(("plain",)).get_content().startswith("李明同志：")
    assert "<!DOCTYPE html>" in parsed.get_body(("html",)).get_content()


@pytest.mark.parametrize(
    "field, value",
    [
        ("subject", "整改\r\nBcc: spy@evil.cn"),
        ("subject", "整改\nBcc: spy@evil.cn"),
        ("to_address", "liming@example.cn\nBcc: spy@evil.cn"),
        ("to_address", "liming@example.cn\rBcc: spy@evil.cn"),
        ("kind", "assigned\r\nBcc: spy@evil.cn"),
    ],
)
def test_the_message_builder_refuses_a_line_break_in_any_header(field, value):
    row = outbox_row("主题")
    setattr(row, field, value)

    with pytest.raises(ValueError):
        email_bytes(row, BODY, sender=SENDER, domain="example.cn", now=NOW)


def test_a_non_ascii_address_is_refused_by_the_builder_not_sent_garbled():
    row = outbox_row("主题")
    row.to_address = "李明@example.cn"

    with pytest.raises(ValueError):
        email_bytes(row, BODY, sender=SENDER, domain="example.cn", now=NOW)


def test_bodies_survive_the_wire_exactly():
    boundary_like = "--=_rectify_0123456789abcdef--"
    text = "李明同志：\n\n.以点开头的一行\n" + boundary_like + "\n" + "长" * 3000 + "\n😀\t末尾\n"
    html = "<p>" + "很长的一行，" * 2000 + "</p>\n<p>&lt;script&gt;</p>\n"
    row = outbox_row("【整改提醒】" + "很长的主题 😀 a" * 30)  # 4-byte characters, spaces
    body = OutboxBody(message_id=41, text=text, html=html)

    data = email_bytes(row, body, sender=SENDER, domain="example.cn", now=NOW)
    parsed = build_email(row, body, sender=SENDER, domain="example.cn", now=NOW)

    assert max(len(line) for line in data.split(b"\r\n")) <= 78  # far below SMTP's 998
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF line ends only
    assert data.isascii()
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content() == text
    assert parsed.get_body(("html",)).get_content() == html
    assert str(parsed["Subject"]) == row.subject
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Date"].datetime == NOW
    assert not parsed.defects and not any(part.defects for part in parsed.walk())


def test_an_ascii_subject_stays_readable_on_the_wire():
    row = outbox_row("Weekly digest")

    data = email_bytes(row, BODY, sender="Rectify <rectify@localhost>", domain="localhost", now=NOW)

    assert b"\r\nSubject: Weekly digest\r\n" in data
    assert data.startswith(b"From: Rectify <rectify@localhost>\r\n")


def test_a_missing_value_is_a_render_error_not_an_empty_message():
    context = context_for("rejected")
    del context["reason"]

    with pytest.raises(RenderError, match="rejected"):
        render("rejected", context)
    with pytest.raises(RenderError, match="未知的邮件类型"):
        render("no_such_kind", context)
    with pytest.raises(RenderError):
        render("digest", {"person_name": "李明", "day": date(2026, 9, 14), "items": [{"x": 1}]})
