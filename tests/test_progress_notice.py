"""The progress notice (通报): facts from the ledger, an editable template, a GB/T 9704 .docx."""

import struct
import subprocess
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Length
from sqlalchemy import func
from sqlmodel import select

from flows.demo import load_demo
from flows.progress_notice import (
    COMPLETED_STAGES,
    cn_number,
    cn_period,
    export_progress_notice,
    notice_context,
    render_notice_blocks,
    sentence,
)
from flows.progress_notice_markup import Block, Kind, parse_blocks
from models.calendar import local_date
from models.errors import BadInput, NotFound
from models.intake import create_inspection
from models.ledger import DeadlineClass, Task
from models.queries import ledger_summary
from models.stages import Action, Stage
from tests.factories import POLICY
from tests.office import convert, poppler

TITLE = "关于市委巡察整改落实进展情况的通报"


# --- Fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def demo(session, now, home):
    load_demo(session, home, now, POLICY)
    session.flush()


@pytest.fixture
def today(now) -> date:
    return local_date(now)


@pytest.fixture
def notice(session, demo, home, today, tmp_path) -> Path:
    return export_progress_notice(session, tmp_path / "通报.docx", today, home=home)


def text_of(path: Path) -> str:
    return "\n".join(paragraph.text for paragraph in Document(path).paragraphs)


def east_asian_font(run) -> str | None:
    return run._element.rPr.rFonts.get(qn("w:eastAsia"))


def mm(length: Length) -> float:
    return length / 36000


def expected_counts(session, today: date) -> dict[str, int]:
    """The counts the notice must state, asked of the ledger independently."""
    summary = ledger_summary(session, today)
    completed = sum(summary["by_stage"][stage] for stage in COMPLETED_STAGES)
    long_term = session.exec(
        select(func.count())
        .select_from(Task)
        .where(Task.deadline_class == DeadlineClass.LONG_TERM)
        .where(Task.stage.not_in(list(COMPLETED_STAGES)))
    ).one()
    return {
        "areas": summary["areas"],
        "tasks": summary["tasks"],
        "completed": completed,
        "long_term": long_term,
        "in_progress": summary["tasks"] - completed - long_term,
    }


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


# --- What the notice says -----------------------------------------------------------------


def test_the_notice_states_the_counts_computed_from_the_ledger(session, notice, today):
    counts = expected_counts(session, today)
    assert counts["long_term"] and counts["in_progress"] and counts["completed"]  # demo covers all
    text = text_of(notice)
    assert (
        f"明确了{counts['areas']}个方面{counts['tasks']}项整改任务，"
        f"目前已完成整改{counts['completed']}项，正在推进{counts['in_progress']}项，"
        f"需长期坚持{counts['long_term']}项"
    ) in text


def test_the_notice_names_every_area_and_task_with_its_measures(session, notice):
    text = text_of(notice)
    context = notice_context(session, None, date(2026, 9, 14))
    for area in context["areas"]:
        assert f"（{cn_number(area['number'])}）{area['title']}" in text
        for task in area["tasks"]:
            assert f"{task['number']}.在{task['title']}方面。" in text
            if len(task["measures"]) > 1:
                assert f"一是{task['measures'][0]}" in text
    titles = session.exec(select(Task.title)).all()
    assert len(titles) == 14 and all(title in text for title in titles)


def test_the_notice_follows_the_published_structure(notice):
    paragraphs = [p.text for p in Document(notice).paragraphs if p.text]
    assert paragraphs[:2] == ["中共青川市水务局党组", TITLE]
    opening = paragraphs[2]
    assert "2025年3月10日至5月30日，市委第三巡察组对青川市水务局党组进行了巡察" in opening
    assert "2025年7月8日，市委巡察组向青川市水务局党组反馈了巡察意见" in opening
    headings = [p for p in paragraphs if p[:2] in ("一、", "二、", "三、")]
    assert headings == [
        "一、领导班子履行整改主体责任情况",
        "二、巡察整改落实情况",
        "三、下一步工作打算及计划",
    ]
    assert "公开期限" in paragraphs[-3] and "联系电话" in paragraphs[-3]
    assert paragraphs[-2:] == ["中共青川市水务局党组", "2026年9月14日"]


def test_each_task_reports_its_status_and_latest_progress(world, today):
    s = world.session
    consolidated = world.task_at(Stage.CONSOLIDATED)
    long_term = world.task_at(Stage.ACTING, long_term=True)
    world.do(long_term, Action.REPORT_PROGRESS, text="每季度开展一次专题学习")
    world.new_task()  # not yet assigned: reported as in progress
    rebounded = world.task_at(Stage.LOOKBACK)
    world.do(rebounded, Action.REBOUND)
    world.task_at(Stage.SIGNED_OFF)
    s.flush()

    context = notice_context(s, world.inspection.id, today)

    counts = context["counts"]
    assert (counts["tasks"], counts["completed"], counts["in_progress"]) == (5, 2, 2)
    assert (counts["long_term"], counts["rebounds"], counts["lookbacks"]) == (1, 1, 2)
    assert counts["lookbacks_confirmed"] == 1
    tasks = {t["id"]: t for t in context["areas"][0]["tasks"]}
    assert tasks[consolidated.id]["status"] == "completed"
    assert tasks[long_term.id]["progress"] == "每季度开展一次专题学习"
    assert tasks[rebounded.id]["rebounds"] == 1
    text = "\n".join(b.full_text for b in render_notice_blocks(context, _shipped()))
    assert "1.在测试问题1方面。一是措施一。二是措施二。目前该项任务已完成整改，经“回头看”" in text
    assert "每季度开展一次专题学习。该项任务需长期坚持" in text
    assert "3.在测试问题3方面。一是措施一。二是措施二。目前正在推进。" in text
    assert "经“回头看”发现问题反弹，已重新整改。" in text


def test_the_inspection_must_be_named_when_the_ledger_holds_several(world, today):
    create_inspection(world.session, title="第二轮巡察", actor=world.system, now=world.now)
    world.session.flush()
    with pytest.raises(BadInput, match="多轮巡察"):
        notice_context(world.session, None, today)
    with pytest.raises(NotFound, match="没有编号为 999999 的巡察"):
        notice_context(world.session, 999999, today)
    assert notice_context(world.session, world.inspection.id, today)["counts"]["areas"] == 1


def test_a_publication_window_given_for_the_notice_is_printed(session, demo, today, tmp_path):
    path = export_progress_notice(
        session, tmp_path / "n.docx", today, publication=(date(2026, 9, 21), date(2026, 10, 9))
    )
    assert "公开期限：2026年9月21日至10月9日。" in text_of(path)


# --- GB/T 9704 layout ---------------------------------------------------------------------


def test_the_page_is_a4_with_the_official_margins(notice):
    section = Document(notice).sections[0]
    measured = [
        section.page_width,
        section.page_height,
        section.top_margin,
        section.bottom_margin,
        section.left_margin,
        section.right_margin,
    ]
    for length, expected in zip(measured, [210, 297, 37, 35, 28, 26], strict=True):
        assert mm(length) == pytest.approx(expected, abs=0.1)


def test_title_body_and_headings_use_the_official_fonts_and_spacing(notice):
    paragraphs = [p for p in Document(notice).paragraphs if p.text]
    title, body, heading1, heading2 = [], [], [], []
    for paragraph in paragraphs:
        if paragraph.alignment == WD_ALIGN_PARAGRAPH.CENTER:
            title.append(paragraph)
        elif paragraph.text.startswith(("一、", "二、", "三、")):
            heading1.append(paragraph)
        elif paragraph.text.startswith("（"):
            heading2.append(paragraph)
        else:
            body.append(paragraph)
    assert [p.text for p in title] == ["中共青川市水务局党组", TITLE]
    for run in (run for p in title for run in p.runs):
        assert run.font.size.pt == 22
        assert east_asian_font(run) == "方正小标宋简体"
    assert len(body) > 14
    for paragraph in body:
        fmt = paragraph.paragraph_format
        assert fmt.line_spacing_rule == WD_LINE_SPACING.EXACTLY
        assert fmt.line_spacing.pt == pytest.approx(28.95, abs=0.01)
        for run in paragraph.runs:
            assert run.font.size.pt == 16
            assert east_asian_font(run) in ("仿宋_GB2312", "仿宋")
    assert len(heading1) == 3 and len(heading2) == 4 + 4 + 3
    assert all(east_asian_font(p.runs[0]) == "黑体" for p in heading1)
    assert all(east_asian_font(p.runs[0]) == "楷体_GB2312" for p in heading2)
    # a run-in heading: "（一）…。" in 楷体, the sentences after it in 仿宋
    assert any(len(p.runs) == 2 and east_asian_font(p.runs[1]) == "仿宋_GB2312" for p in heading2)


def test_page_numbers_sit_on_the_outer_side_of_odd_and_even_pages(notice):
    document = Document(notice)
    assert document.settings.odd_and_even_pages_header_footer
    section = document.sections[0]
    for footer, alignment in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        assert not footer.is_linked_to_previous
        paragraph = footer.paragraphs[0]
        assert paragraph.alignment == alignment
        instructions = footer._element.xpath(".//w:instrText")
        assert [i.text.strip() for i in instructions] == ["PAGE"]
        assert paragraph.text.startswith("— ") and paragraph.text.endswith(" —")
        for run in paragraph.runs:
            assert run.font.size.pt == 14
            assert east_asian_font(run) == "宋体"


def test_libreoffice_opens_the_notice_and_renders_its_pages(notice, tmp_path):
    """Converted headless to PDF, the notice keeps its text; its pages are kept as PNG."""
    pdf = convert(notice, "pdf", tmp_path / "pdf", tmp_path / "lo-profile")
    assert pdf.read_bytes()[:5] == b"%PDF-"

    info = subprocess.run(
        [poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "(A4)" in info
    pages = int(next(line for line in info.splitlines() if line.startswith("Pages:")).split()[1])
    assert pages >= 3

    text = subprocess.run(
        [poppler("pdftotext"), "-enc", "UTF-8", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    flat = "".join(text.split())  # lines wrap, and a space may stand between 中文 and digits
    assert TITLE in flat
    assert "明确了4个方面14项整改任务" in flat
    for title in ("推动河湖长制落地见效不够有力", "农村饮水安全保障不到位", "干部队伍建设存在短板"):
        assert title in flat
    assert "—1—" in flat and f"—{pages}—" in flat  # page numbers from the PAGE field

    rendered = tmp_path / "pages"
    rendered.mkdir()
    subprocess.run(
        [poppler("pdftoppm"), "-png", "-r", "60", str(pdf), str(rendered / "page")],
        check=True,
        timeout=120,
    )
    print(f"notice pages rendered to {rendered}")
    images = sorted(rendered.glob("page-*.png"))
    assert len(images) == pages
    width, height = png_size(images[0])
    assert (width, height) == (pytest.approx(496, abs=2), pytest.approx(702, abs=2))  # A4, 60 dpi


# --- Templates ----------------------------------------------------------------------------


def _shipped() -> str:
    from flows.progress_notice import SHIPPED_TEMPLATE

    return SHIPPED_TEMPLATE.read_text(encoding="utf-8")


def test_a_template_in_rectify_home_overrides_the_shipped_one(session, demo, home, today, tmp_path):
    (home / "templates").mkdir(parents=True)
    (home / "templates" / "progress_notice.txt.j2").write_text(
        "#title 自定义的通报\n\n{# 注释 #}\n#para 共{{ counts.tasks }}项任务。\n", encoding="utf-8"
    )
    path = export_progress_notice(session, tmp_path / "own.docx", today, home=home)
    assert [p.text for p in Document(path).paragraphs] == ["自定义的通报", "共14项任务。"]


def test_a_template_named_by_the_caller_wins(session, demo, home, today, tmp_path):
    (home / "templates").mkdir(parents=True)
    (home / "templates" / "progress_notice.txt.j2").write_text("#title 家目录模板\n")
    named = tmp_path / "named.txt.j2"
    named.write_text("#title 指定的模板\n", encoding="utf-8")
    path = export_progress_notice(
        session, tmp_path / "n.docx", today, template_path=named, home=home
    )
    assert text_of(path) == "指定的模板"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("#title 标题\n#para 正文\n#para {{ counts.tasks }\n", "第3行有语法错误"),
        ("#title 标题\n{% for area in areas %}\n#para 未闭合\n", "语法错误"),
        ("#title 标题\n#para {{ counts.taks }}\n", "第2行用到了不存在的变量"),
        ("#title 标题\n\n\n#para {{ nothing_here }}\n", "第4行用到了不存在的变量"),
        ("#title 标题\n#para {{ counts.tasks | cn_date }}\n", "第2行出错"),
        ("#title 标题\n#headng1 一、错字\n", "未知标记“#headng1”"),
    ],
)
def test_a_broken_template_is_bad_input_naming_its_line(
    world, home, today, tmp_path, template, message
):
    (home / "templates").mkdir(parents=True)
    (home / "templates" / "progress_notice.txt.j2").write_text(template, encoding="utf-8")
    path = tmp_path / "broken.docx"
    with pytest.raises(BadInput, match=message) as error:
        export_progress_notice(world.session, path, today, home=home)
    assert "progress_notice.txt.j2" in str(error.value)
    assert not path.exists()


def test_a_missing_template_or_a_wrong_target_is_bad_input(world, today, tmp_path):
    with pytest.raises(BadInput, match="找不到通报模板"):
        export_progress_notice(
            world.session, tmp_path / "n.docx", today, template_path=tmp_path / "none.j2"
        )
    with pytest.raises(BadInput, match=r"\.docx"):
        export_progress_notice(world.session, tmp_path / "n.pdf", today)
    with pytest.raises(BadInput, match="目录不存在"):
        export_progress_notice(world.session, tmp_path / "no" / "n.docx", today)


# --- The pieces ---------------------------------------------------------------------------


def test_the_markup_reads_marks_plain_lines_and_run_in_headings():
    blocks = parse_blocks(
        "#title 标题\n\n  正文一行\n#heading2 （一）小标题。|| 接排的正文\n"
        "#blank\n#date 2026年9月14日"
    )
    assert blocks == [
        Block(Kind.TITLE, "标题"),
        Block(Kind.PARA, "正文一行"),
        Block(Kind.HEADING2, "（一）小标题。", "接排的正文"),
        Block(Kind.BLANK, ""),
        Block(Kind.DATE, "2026年9月14日"),
    ]


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1, "一"),
        (9, "九"),
        (10, "十"),
        (12, "十二"),
        (20, "二十"),
        (36, "三十六"),
        (105, "一百零五"),
    ],
)
def test_chinese_numbers_for_headings_and_steps(n, words):
    assert cn_number(n) == words


def test_periods_and_sentences_read_as_in_official_prose():
    assert cn_period(date(2025, 3, 10), date(2025, 5, 30)) == "2025年3月10日至5月30日"
    assert cn_period(date(2025, 11, 1), date(2026, 1, 30)) == "2025年11月1日至2026年1月30日"
    assert sentence("已完成整改") == "已完成整改。"
    assert sentence("已完成整改。") == "已完成整改。"
    assert sentence("开展“回头看”") == "开展“回头看”"


def test_the_signature_stands_two_characters_in_and_the_date_two_right_of_its_start(notice):
    *_, signature, day = Document(notice).paragraphs
    assert (signature.text, day.text) == ("中共青川市水务局党组", "2026年9月14日")
    assert signature.alignment == day.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert signature.paragraph_format.right_indent.pt == 2 * 16
    # 10 characters signed; the date is 6.5 characters plus 5 quarter gaps between 中文 and digits
    assert day.paragraph_format.right_indent.pt == pytest.approx((10 - 7.75) * 16)
