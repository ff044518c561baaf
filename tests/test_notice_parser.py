"""The notice parser against a real published notice and small hand-made variants."""

import io
import json
import re
from datetime import date
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from openpyxl import Workbook

from flows.notice import (
    OLE_MAGIC,
    NotANotice,
    ParsedNotice,
    notice_summary,
    parse_notice,
    read_notice_file,
    read_notice_text,
)
from models.errors import BadInput
from tests.paths import DANDONG_NOTICE, NOTICE_FIXTURES

FIXTURE = DANDONG_NOTICE
DEMO = Path(__file__).resolve().parents[1] / "flows" / "demo" / "notice.txt"


@pytest.fixture(scope="module")
def dandong() -> ParsedNotice:
    return parse_notice(FIXTURE.read_text(encoding="utf-8"))


def small_notice(statement: str = "明确了2个方面3项整改任务", rectification: str = "") -> str:
    """A minimal notice in the same shape as the real one, with a stated total to vary."""
    rectification = rectification or (
        "（一）理论学习不够深入\n"
        "1.在学习制度落实不到位方面。一是修订学习制度。二是每月集中学习一次。\n"
        "2.在学习成效不明显方面。组织专题研讨，形成调研报告。\n"
        "（二）作风建设有差距\n"
        "1.在文风会风不实方面。一是精简文件；二是压缩会议。\n"
    )
    return (
        "中共某某县文化局党组\n"
        "关于县委巡察整改进展情况的通报\n"
        "2024年3月1日至5月10日，县委第一巡察组对县文化局党组进行了巡察。"
        "2024年6月20日，县委巡察组反馈了巡察意见。\n"
        "一、领导班子履行主体责任情况\n"
        f"（一）加强组织领导。{statement}。\n"
        "二、巡察整改落实情况\n"
        f"{rectification}"
        "三、下一步工作打算\n"
        "（一）持续巩固整改成果。\n"
        "欢迎广大干部群众监督。公开期限：2025年1月6日至1月20日。\n"
    )


# --- The real notice ------------------------------------------------------------------


def test_dandong_header_facts(dandong: ParsedNotice) -> None:
    assert dandong.issuer == "中共丹东市文化旅游和广播电视局党组"
    assert dandong.title == "关于市委巡察整改落实进展情况的通报"
    assert dandong.group == "市委第二巡察组"
    assert (dandong.start, dandong.end) == (date(2024, 4, 12), date(2024, 7, 12))
    assert dandong.feedback == date(2024, 9, 10)
    assert (dandong.publish_from, dandong.publish_to) == (date(2025, 7, 21), date(2025, 8, 8))


def test_dandong_counts_match_what_it_states(dandong: ParsedNotice) -> None:
    assert len(dandong.areas) == 9
    assert [len(area.tasks) for area in dandong.areas] == [5, 5, 3, 4, 4, 5, 3, 4, 3]
    assert dandong.task_count == 36
    assert dandong.measure_count == 126
    assert (dandong.stated_areas, dandong.stated_tasks, dandong.stated_measures) == (9, 36, None)
    assert dandong.warnings == []


def test_dandong_areas_are_numbered_and_untagged(dandong: ParsedNotice) -> None:
    assert [area.number for area in dandong.areas] == list(range(1, 10))
    first = dandong.areas[0].title
    assert first.startswith("学习贯彻习近平总书记关于文体旅发展的重要论述不够深入")
    assert dandong.areas[8].title.endswith("领导班子和干部人才队伍建设存在短板弱项")
    assert all(not area.title.startswith(("（", "(")) for area in dandong.areas)


def test_dandong_task_titles_drop_the_frame(dandong: ParsedNotice) -> None:
    areas = dandong.areas
    assert areas[0].tasks[0].title == "统筹谋划和科学布局不够有力"
    assert areas[1].tasks[4].title == "培育利用新业态、新模式有差距"
    assert areas[3].tasks[0].title == "“统一宣传口号”“制作一部好的宣传片”工作行动迟缓"
    assert areas[8].tasks[2].title == "指导基层党建工作不够有力"
    assert [task.number for task in areas[5].tasks] == [1, 2, 3, 4, 5]


def test_dandong_measures_are_the_steps(dandong: ParsedNotice) -> None:
    trunk = dandong.areas[1].tasks[3]  # 推动民宿和农家乐提档升级乏力: 一是 … 六是
    assert len(trunk.measures) == 6
    assert trunk.measures[0] == (
        "制定《丹东市乡村旅游民宿发展服务指南》《旅游民宿管理办法（试行）》"
        "《丹东市农家乐提升行动方案》（征求意见稿）等规范性文件。"
    )
    assert dandong.areas[2].tasks[0].measures[0] == "制定旅游环境整治常态化工作方案。"
    assert dandong.areas[8].tasks[2].measures[2] == "进一步科学研究制定2025年度、季度党课教学计划。"


def test_dandong_item_without_steps_is_one_measure(dandong: ParsedNotice) -> None:
    (measure,) = dandong.areas[0].tasks[0].measures
    assert measure.startswith("主动沟通对接省文旅厅")
    assert measure.endswith("待省级层面编制后按上级要求落实执行。")


def test_dandong_bookmarks_are_gone(dandong: ParsedNotice) -> None:
    texts = [area.title for area in dandong.areas]
    for area in dandong.areas:
        for task in area.tasks:
            texts += [task.title, *task.measures]
    assert not any("bookmark" in text or "OLE_LINK" in text for text in texts)
    assert dandong.areas[6].tasks[0].title == "落实虎山长城备案整改要求不到位"
    assert dandong.areas[6].tasks[1].title == "文物安全监管缺失"


# --- Decoding -------------------------------------------------------------------------


def test_reads_gb18030_bytes() -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    assert read_notice_text(text.encode("gb18030")) == text


def test_reads_utf8_with_and_without_bom() -> None:
    assert read_notice_text("整改通报".encode("utf-8-sig")) == "整改通报"
    assert read_notice_text("整改通报".encode()) == "整改通报"


def test_rejects_bytes_in_neither_encoding() -> None:
    with pytest.raises(BadInput):
        read_notice_text(b"\xff\xfe\xff\xff")
    with pytest.raises(BadInput):  # UTF-16 without a byte-order mark: NULs everywhere
        read_notice_text("整改通报\n".encode("utf-16-le"))


def test_reads_notepad_unicode_with_byte_order_mark() -> None:
    assert read_notice_text("整改通报\n".encode("utf-16")) == "整改通报\n"


# --- Small inline notices -------------------------------------------------------------


def test_small_notice_parses_cleanly() -> None:
    notice = parse_notice(small_notice())
    assert notice.warnings == []
    assert notice.group == "县委第一巡察组"
    assert (notice.start, notice.end, notice.feedback) == (
        date(2024, 3, 1),
        date(2024, 5, 10),
        date(2024, 6, 20),
    )
    assert (notice.publish_from, notice.publish_to) == (date(2025, 1, 6), date(2025, 1, 20))
    assert [area.title for area in notice.areas] == ["理论学习不够深入", "作风建设有差距"]
    assert notice.areas[0].tasks[1].measures == ["组织专题研讨，形成调研报告。"]
    # "一是…；二是…" separators are dropped, the final 。 is kept
    assert notice.areas[1].tasks[0].measures == ["精简文件", "压缩会议。"]


def test_stated_total_mismatch_warns() -> None:
    notice = parse_notice(small_notice(statement="明确了2个方面4项整改任务，制定整改措施6条"))
    assert notice.stated_tasks == 4
    assert notice.stated_measures == 6
    assert "通报载明4项整改任务，实际识别3项" in notice.warnings
    assert "通报载明6条整改措施，实际识别5条" in notice.warnings


def test_bookmarks_are_stripped_inline() -> None:
    text = small_notice(
        rectification=(
            "（一）[bookmark: _Hlk1]理论学习不够深入\n"
            "[bookmark: OLE_LINK5][bookmark: OLE_LINK3]1.在学习制度落实不到位方面。"
            "一是修订[bookmark: OLE_LINK9]学习制度。\n"
            "2.在学习成效不明显方面。组织专题研讨。\n"
            "（二）作风建设有差距\n"
            "1.在文风会风不实方面。一是精简文件。\n"
        )
    )
    notice = parse_notice(text)
    assert notice.areas[0].title == "理论学习不够深入"
    assert notice.areas[0].tasks[0].title == "学习制度落实不到位"
    assert notice.areas[0].tasks[0].measures == ["修订学习制度。"]


def test_half_width_and_variant_numbering() -> None:
    text = small_notice(
        rectification=(
            "(一)理论学习不够深入\n"
            "1．在学习制度落实不到位方面。一是修订学习制度。\n"
            "2、关于“学习成效不明显”的问题。组织专题研讨。\n"
            "（二）作风建设有差距\n"
            "1. 文风会风不实。一是精简文件。二是压缩会议。\n"
        )
    )
    notice = parse_notice(text)
    assert notice.warnings == []
    titles = [task.title for area in notice.areas for task in area.tasks]
    assert titles == ["学习制度落实不到位", "学习成效不明显", "文风会风不实"]


def test_section_is_found_by_its_words_not_its_number() -> None:
    text = small_notice().replace("二、巡察整改落实情况", "三、巡察反馈问题整改情况")
    text = text.replace("三、下一步工作打算", "四、下一步工作打算")
    notice = parse_notice(text)
    assert [len(area.tasks) for area in notice.areas] == [2, 1]


def test_closing_lines_do_not_join_the_last_task() -> None:
    text = small_notice().replace("三、下一步工作打算\n（一）持续巩固整改成果。\n", "")
    notice = parse_notice(text)
    assert notice.areas[-1].tasks[-1].measures == ["精简文件", "压缩会议。"]


def test_random_text_is_not_a_notice() -> None:
    with pytest.raises(NotANotice, match="这不是整改通报"):
        parse_notice("今天天气晴朗，气温适宜。\n一、出行建议\n1.多喝水。\n")


def test_rectification_heading_without_tasks_is_not_a_notice() -> None:
    with pytest.raises(NotANotice, match="这不是整改通报"):
        parse_notice("某某党组\n二、巡察整改落实情况\n正在推进中。\n")


def test_empty_text_is_not_a_notice() -> None:
    with pytest.raises(NotANotice):
        parse_notice(" \n\u3000\n")


def test_the_demo_notice_parses_exactly_without_warnings() -> None:
    notice = parse_notice(read_notice_text(DEMO.read_bytes()))

    assert notice.warnings == []
    assert [len(area.tasks) for area in notice.areas] == [4, 3, 4, 3]
    assert (notice.stated_areas, notice.stated_tasks) == (4, 14)
    assert notice.measure_count == 44
    assert notice.group == "市委第三巡察组"
    assert (notice.start, notice.end) == (date(2025, 3, 10), date(2025, 5, 30))
    assert notice.feedback == date(2025, 7, 8)
    assert (notice.publish_from, notice.publish_to) == (date(2025, 9, 1), date(2025, 9, 12))


# --- Varied notices: tests/fixtures/notices -------------------------------------------

NOTICES = NOTICE_FIXTURES


def summary_of(path: Path) -> dict:
    return notice_summary(parse_notice(read_notice_file(path)))


def outline(summary: dict) -> list[tuple[str, list[tuple[str, int]]]]:
    """Areas with their tasks' titles and measure counts: the shape to compare exactly."""
    return [
        (area["title"], [(task["title"], len(task["measures"])) for task in area["tasks"]])
        for area in summary["areas"]
    ]


def measures_of(summary: dict, area: int, task: int) -> list[str]:
    return summary["areas"][area]["tasks"][task]["measures"]


def test_dandong_summary_is_the_dry_run_json(dandong: ParsedNotice) -> None:
    summary = notice_summary(dandong)
    assert json.loads(json.dumps(summary, ensure_ascii=False)) == summary
    assert summary["inspection"] == {
        "group": "市委第二巡察组",
        "start": "2024-04-12",
        "end": "2024-07-12",
        "feedback": "2024-09-10",
        "publish_from": "2025-07-21",
        "publish_to": "2025-08-08",
    }
    assert [len(area["tasks"]) for area in summary["areas"]] == [5, 5, 3, 4, 4, 5, 3, 4, 3]
    assert sum(len(t["measures"]) for a in summary["areas"] for t in a["tasks"]) == 126
    assert summary["stated"] == {"areas": 9, "tasks": 36, "measures": None}
    assert summary["warnings"] == []
    assert set(summary) == {"inspection", "areas", "stated", "warnings"}
    assert set(summary["areas"][0]["tasks"][0]) == {"title", "measures"}


def test_dandong_file_reads_the_same_as_its_text(dandong: ParsedNotice) -> None:
    assert parse_notice(read_notice_file(FIXTURE)) == dandong


def test_portal_page_with_half_width_punctuation() -> None:
    """Portal furniture, one-line issuer+title, (一)/1./:/;/, and bookmarks; year-crossing range."""
    notice = parse_notice(read_notice_file(NOTICES / "portal-halfwidth.txt"))
    summary = notice_summary(notice)
    assert notice.issuer == "中共临溪县农业农村局党组"
    assert notice.title == "关于县委巡察整改进展情况的通报"
    assert summary["inspection"] == {
        "group": "县委第一巡察组",
        "start": "2024-11-05",
        "end": "2025-01-20",  # "2024年11月5日至1月20日" crosses the new year
        "feedback": "2025-03-18",
        "publish_from": "2025-08-01",
        "publish_to": "2025-08-07",
    }
    assert outline(summary) == [
        (
            "落实乡村振兴决策部署有差距",
            [
                ("高标准农田建设推进缓慢", 3),
                ("农业产业项目带动作用不强", 2),
                ("农村人居环境整治不彻底", 3),
            ],
        ),
        (
            "农业执法监管不到位",
            [("农资市场监管存在盲区", 2), ("动物防疫责任落实不严", 3), ("执法记录不规范", 3)],
        ),
        (
            "基层党组织建设有短板",
            [("党支部组织生活不规范", 2), ("党员教育管理不严格", 3), ("年轻干部培养不足", 3)],
        ),
    ]
    # a measure opening with a headline sentence keeps its whole text
    assert measures_of(summary, 0, 0)[0] == (
        "全力争取资金。多次对接省农业农村厅,争取上级补助资金1200万元"
    )
    assert measures_of(summary, 1, 2) == [
        "统一执法文书格式",
        "开展执法案卷评查",
        "对评查发现的问题逐件整改。",
    ]
    # "共梳理出3个方面9个问题,制定整改措施24条"; "截至…已完成整改7个" is progress
    assert summary["stated"] == {"areas": 3, "tasks": 9, "measures": 24}
    assert summary["warnings"] == []
    everything = json.dumps(summary, ensure_ascii=False)
    for leftover in ("bookmark", "_Hlk", "OLE_LINK", "浏览次数", "打印", "关闭窗口", "首页"):
        assert leftover not in everything


def test_no_top_level_sections_in_gb18030() -> None:
    """（一）areas straight under the introduction; steps one per line; a closing signature."""
    path = NOTICES / "no-top-level.gb18030.txt"
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    summary = summary_of(path)
    assert summary["inspection"] == {
        "group": "市委第四巡察组",
        "start": "2024-11-05",
        "end": "2024-12-20",  # "2024年11月5日至12月20日": the second date omits the year
        "feedback": "2025-01-16",  # not the "截至2025年6月30日" of the sentence before
        "publish_from": None,
        "publish_to": None,
    }
    assert outline(summary) == [
        (
            "食品安全监管责任落实不够有力",
            [
                ("校园食品安全检查覆盖不全", 3),
                ("网络餐饮监管薄弱", 2),
                ("食品抽检不合格后处置不及时", 1),
            ],
        ),
        (
            "营商环境服务有差距",
            [("企业开办审批环节偏多", 2), ("涉企检查过多过频", 3), ("投诉举报办理质量不高", 2)],
        ),
    ]
    assert measures_of(summary, 0, 2) == [
        "严格执行不合格食品核查处置工作规范，抽检不合格产品核查处置率达到100%。"
    ]
    # the next-steps paragraph and the signature do not join the last task
    assert measures_of(summary, 1, 2) == ["建立投诉举报回访制度。", "每月通报办理情况。"]
    assert summary["stated"] == {"areas": 2, "tasks": 6, "measures": 13}
    assert summary["warnings"] == []


def test_four_levels_make_the_sub_problems_the_tasks() -> None:
    """（一）area, 1. problem, （1）sub-problem: the sub-problems are the tasks."""
    summary = summary_of(NOTICES / "four-levels.txt")
    assert summary["inspection"] == {
        "group": "区委第二巡察组",
        "start": "2025-03-03",
        "end": "2025-04-30",
        "feedback": "2025-06-12",
        "publish_from": "2025-09-01",
        "publish_to": "2025-09-05",
    }
    assert outline(summary) == [
        (
            "落实教育优先发展战略有差距",
            [
                ("城区学校大班额问题突出", 2),  # 1.（１）
                ("乡村学校师资力量薄弱", 3),  # 1.（２）
                ("课后服务质量不高", 3),  # 2. whose （1）… lines are measures
                ("学生体质健康监测不到位", 2),  # 3. without sub-items
            ],
        ),
        (
            "干部队伍建设和作风建设存在不足",
            [("干部选任酝酿不充分", 2), ("干部档案审核不严", 1), ("作风建设常抓不懈有差距", 3)],
        ),
    ]
    assert measures_of(summary, 0, 2) == [
        "制定课后服务课程指南。",
        "引进校外优质资源进校园，开设课程26门。",
        "建立家长满意度测评制度。",
    ]
    assert measures_of(summary, 1, 1) == ["完成全部中层干部档案专项审核，补充完善材料56份。"]
    # "反馈问题7个" is stated; "已完成整改6个" is progress
    assert summary["stated"] == {"areas": None, "tasks": 7, "measures": None}
    assert summary["warnings"] == []


def test_four_level_tasks_are_numbered_in_their_area() -> None:
    notice = parse_notice(read_notice_file(NOTICES / "four-levels.txt"))
    assert [[task.number for task in area.tasks] for area in notice.areas] == [
        [1, 2, 3, 4],
        [1, 2, 3],
    ]
    assert [area.number for area in notice.areas] == [1, 2]


def test_top_level_headings_as_areas_with_a_mismatch() -> None:
    """ "一、关于…方面" areas, "（一）关于…的问题" tasks with "整改情况：" and 1./2. measures."""
    notice = parse_notice(read_notice_file(NOTICES / "top-level-areas.txt"))
    summary = notice_summary(notice)
    assert notice.issuer == "中共北川农垦集团有限公司委员会"
    assert summary["inspection"] == {
        "group": "省委第三巡视组",
        "start": "2025-03-10",
        "end": "2025-05-09",
        "feedback": "2025-07-02",
        "publish_from": "2025-11-03",
        "publish_to": "2025-11-07",
    }
    assert outline(summary) == [
        ("贯彻落实党中央决策部署", [("服务粮食安全战略不够有力", 2), ("主责主业聚焦不够", 1)]),
        ("全面从严治党", [("选人用人把关不严", 3), ("落实中央八项规定精神不严格", 2)]),
        ("巡视整改和干部队伍建设", [("年轻干部储备不足", 3)]),
    ]
    assert measures_of(summary, 1, 0) == [
        "修订集团干部选拔任用工作实施细则。",
        "对近三年提拔的中层干部开展履职评估。",
        "组织干部人事档案专项复核。",
    ]
    assert summary["stated"] == {"areas": None, "tasks": 6, "measures": 16}
    assert summary["warnings"] == [
        "通报载明6项整改任务，实际识别5项",
        "通报载明16条整改措施，实际识别11条",
    ]


def test_feedback_document_lists_the_problems_as_tasks() -> None:
    """A group's 反馈意见: "一、巡察发现的主要问题"; an item without steps is its own measure."""
    notice = parse_notice(read_notice_file(NOTICES / "feedback-opinion.txt"))
    summary = notice_summary(notice)
    assert (notice.issuer, notice.title) == ("市委第五巡察组", "关于巡察市林业局党组的反馈意见")
    assert summary["inspection"] == {
        "group": "市委第五巡察组",
        "start": "2025-04-07",
        "end": "2025-06-06",
        "feedback": "2025-08-20",
        "publish_from": None,
        "publish_to": None,
    }
    assert outline(summary) == [
        ("贯彻落实生态文明建设部署不够有力", [("林长制落实不到位", 1), ("森林防火基础薄弱", 2)]),
        ("履行全面从严治党责任有差距", [("对下属单位监督不力", 1), ("财务管理不规范", 1)]),
    ]
    assert measures_of(summary, 1, 0) == ["对下属单位监督不力。"]
    assert summary["stated"] == {"areas": None, "tasks": None, "measures": None}
    assert summary["warnings"] == []


def test_text_wrapped_at_a_fixed_width_with_page_numbers() -> None:
    """A PDF's text (pdftotext): lines cut at one width, "- 1 -" page numbers, 第一，steps."""
    summary = summary_of(NOTICES / "pdf-wrapped.txt")
    assert summary["inspection"] == {
        "group": "市委第六巡察组",
        "start": "2025-02-17",
        "end": "2025-04-18",
        "feedback": "2025-05-29",
        "publish_from": "2025-08-04",
        "publish_to": "2025-08-15",
    }
    assert outline(summary) == [
        (
            "统计数据质量管控不够严格",
            [
                ("基层统计基础工作薄弱", 3),
                ("统计执法检查覆盖面不广", 2),
                ("统计数据审核把关不严", 1),
            ],
        ),
        ("干部队伍建设存在短板", [("专业人才储备不足", 2), ("年轻干部历练不够", 3)]),
    ]
    # a measure cut across a page break is whole again, without the page number
    assert measures_of(summary, 0, 1) == [
        "制定年度统计执法检查计划，执法检查覆盖全部县区",
        "对发现的统计违法行为依法立案查处，公开曝光典型案例2起。",
    ]
    assert summary["stated"] == {"areas": 2, "tasks": 5, "measures": 11}
    assert summary["warnings"] == []


@pytest.mark.parametrize("width", [20, 28, 35])
def test_dandong_wrapped_at_a_fixed_width_reads_the_same(width: int, dandong) -> None:
    text = re.sub(r"\[bookmark: [^\]]*\]", "", FIXTURE.read_text(encoding="utf-8"))
    wrapped = "\n".join(
        line[i : i + width] for line in text.splitlines() for i in range(0, len(line), width)
    )
    assert notice_summary(parse_notice(wrapped)) == notice_summary(dandong)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("news-article.txt", "没有同时出现“巡察/巡视”和“整改”"),
        ("ledger-export.txt", "没有找到“（一）…”方面和“1.…”整改任务"),
    ],
)
def test_files_that_are_not_notices(name: str, message: str) -> None:
    with pytest.raises(NotANotice, match=message):
        parse_notice(read_notice_file(NOTICES / name))


# --- Rules, one at a time -------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "stated"),
    [
        ("共梳理出3个方面12个问题，制定整改措施40条", (3, 12, 40)),
        ("反馈问题12个，已完成整改10个", (None, 12, None)),
        ("明确了5个方面20项整改任务", (5, 20, None)),
        ("整改任务12项", (None, 12, None)),
        ("细化形成40条具体整改措施", (None, None, 40)),
        ("反馈的九个方面三十六个问题均已建立台账", (9, 36, None)),
        ("已完成整改任务10项", (None, None, None)),
        ("巡察整改已完成10个", (None, None, None)),
        ("其中已完成10个问题的整改", (None, None, None)),
    ],
)
def test_stated_totals_phrasings(statement: str, stated: tuple) -> None:
    notice = parse_notice(small_notice(statement=statement))
    assert (notice.stated_areas, notice.stated_tasks, notice.stated_measures) == stated


def test_counts_inside_task_items_are_not_stated_totals() -> None:
    notice = parse_notice(
        small_notice(
            statement="加强组织领导",
            rectification=(
                "（一）理论学习不够深入\n"
                "1.在学习制度落实不到位方面。一是排查发现问题43个，已督促整改；"
                "二是制定整改措施8条。\n"
            ),
        )
    )
    assert (notice.stated_areas, notice.stated_tasks, notice.stated_measures) == (None, None, None)


def test_cutoff_dates_are_neither_ranges_nor_feedback() -> None:
    text = small_notice().replace(
        "2024年3月1日至5月10日，",
        "截至2025年6月30日，巡察反馈的问题已完成整改。2024年3月1日至5月10日，",
    )
    notice = parse_notice(text)
    assert (notice.start, notice.end, notice.feedback) == (
        date(2024, 3, 1),
        date(2024, 5, 10),
        date(2024, 6, 20),
    )


def test_measures_one_per_line_after_the_item() -> None:
    notice = parse_notice(
        small_notice(
            rectification=(
                "（一）理论学习不够深入\n"
                "1.在学习制度落实不到位方面。\n"
                "一是修订学习制度。\n"
                "二是每月集中学习一次，\n"
                "全年不少于12次。\n"
                "2.在学习成效不明显方面：\n"
                "①组织专题研讨。\n"
                "②形成调研报告。\n"
                "（二）作风建设有差距\n"
                "1.在文风会风不实方面。(1)精简文件；(2)压缩会议。\n"
            )
        )
    )
    assert [[t.measures for t in area.tasks] for area in notice.areas] == [
        [
            ["修订学习制度。", "每月集中学习一次，全年不少于12次。"],
            ["组织专题研讨。", "形成调研报告。"],
        ],
        [["精简文件", "压缩会议。"]],
    ]
    assert notice.warnings == []


def test_gaps_in_numbering_are_warned() -> None:
    notice = parse_notice(
        small_notice(
            rectification=(
                "（一）理论学习不够深入\n"
                "1.在学习制度落实不到位方面。一是修订学习制度。\n"
                "3.在学习成效不明显方面。组织专题研讨。\n"
                "（三）作风建设有差距\n"
                "1.在文风会风不实方面。一是精简文件；二是压缩会议。\n"
            )
        )
    )
    assert notice.warnings == [
        "方面编号不连续：一、三，可能有方面未识别",
        "第1个方面“理论学习不够深入”的任务编号不连续：1、3，可能有任务未识别",
    ]
    assert [task.number for task in notice.areas[0].tasks] == [1, 3]


def test_duplicate_item_numbers_are_renumbered() -> None:
    notice = parse_notice(
        small_notice(
            rectification=(
                "（一）理论学习不够深入\n"
                "1.在学习制度落实不到位方面。一是修订学习制度。\n"
                "1.在学习成效不明显方面。组织专题研讨。\n"
                "（二）作风建设有差距\n"
                "1.在文风会风不实方面。一是精简文件；二是压缩会议。\n"
            )
        )
    )
    assert [task.number for task in notice.areas[0].tasks] == [1, 2]
    assert "第1个方面“理论学习不够深入”的任务编号不连续：1、1，可能有任务未识别" in notice.warnings


def test_items_without_area_headings_go_into_one_area() -> None:
    text = small_notice(
        rectification=(
            "1.在学习制度落实不到位方面。一是修订学习制度。\n"
            "2.在学习成效不明显方面。组织专题研讨。\n"
            "3.在文风会风不实方面。一是精简文件。\n"
        )
    )
    notice = parse_notice(text)
    assert [area.title for area in notice.areas] == ["巡察整改落实情况"]
    assert notice.task_count == 3
    assert notice.warnings[0] == "未识别到“（一）…”形式的方面标题，已将全部整改任务归入一个方面"


def test_notice_summary_uses_iso_dates_and_nulls() -> None:
    summary = notice_summary(parse_notice(small_notice()))
    assert summary["inspection"]["start"] == "2024-03-01"
    assert summary["inspection"]["group"] == "县委第一巡察组"
    assert summary["stated"] == {"areas": 2, "tasks": 3, "measures": None}
    assert summary["areas"][1] == {
        "title": "作风建设有差距",
        "tasks": [{"title": "文风会风不实", "measures": ["精简文件", "压缩会议。"]}],
    }


HEAD = (
    "中共某某县水利局党组\n关于县委第二巡察组反馈意见\n整改落实情况的通报\n"
    "2024年3月1日至5月10日，县委第二巡察组对县水利局党组进行了巡察。"
    "2024年6月20日反馈了巡察意见。\n"
)


def test_title_broken_over_two_lines() -> None:
    notice = parse_notice(
        HEAD + "二、整改落实情况\n（一）河湖管理不到位\n1.在采砂监管不严方面。整治。\n"
    )
    assert notice.issuer == "中共某某县水利局党组"
    assert notice.title == "关于县委第二巡察组反馈意见整改落实情况的通报"


def test_ledger_fields_under_an_item_are_not_measures() -> None:
    notice = parse_notice(
        HEAD + "二、整改落实情况\n"
        "（一）河湖管理不到位\n"
        "1.在河道采砂监管不严方面。\n"
        "整改措施：一是开展非法采砂专项整治；二是建立联合巡查机制。\n"
        "责任领导：张某\n"
        "责任单位：河湖科\n"
        "整改时限：2024年12月底\n"
        "2.关于“水库安全鉴定滞后”的问题\n"
        "问题表现：部分小型水库未按期开展安全鉴定。\n"
        "整改情况：完成12座水库安全鉴定。\n"
        "责任单位：工管科\n"
    )
    assert [(t.title, t.measures) for t in notice.areas[0].tasks] == [
        ("河道采砂监管不严", ["开展非法采砂专项整治", "建立联合巡查机制。"]),
        ("水库安全鉴定滞后", ["完成12座水库安全鉴定。"]),
    ]
    assert notice.warnings == []


def test_problem_headings_straight_under_the_section_are_tasks() -> None:
    notice = parse_notice(
        HEAD + "二、巡察反馈问题整改落实情况\n"
        "（一）关于河道采砂监管不严的问题。整改情况：一是开展专项整治；二是建立巡查机制。\n"
        "（二）关于“水库安全鉴定滞后”的问题。整改情况：完成12座水库安全鉴定。\n"
        "（三）关于干部队伍建设不足的问题。整改情况：第一，招录专业技术人员3名；第二，开展培训。\n"
        "三、下一步工作打算\n（一）巩固成果。\n"
    )
    assert [area.title for area in notice.areas] == ["巡察反馈问题整改落实情况"]
    assert [(t.number, t.title, len(t.measures)) for t in notice.areas[0].tasks] == [
        (1, "河道采砂监管不严", 2),
        (2, "水库安全鉴定滞后", 1),
        (3, "干部队伍建设不足", 2),
    ]
    assert notice.warnings == [
        "“（一）…”各项均为具体问题，没有方面标题，已将全部整改任务归入一个方面"
    ]


def test_numbered_items_holding_problems_are_the_areas() -> None:
    notice = parse_notice(
        HEAD + "二、整改落实情况\n"
        "1.关于政治建设方面（2个问题）\n"
        "（1）在理论学习不深入方面。一是修订学习制度；二是开展专题学习。\n"
        "（2）在意识形态责任落实不到位方面。一是制定责任清单。\n"
        "2.关于作风建设方面\n"
        "（1）在文风会风不实方面。一是精简文件。\n"
    )
    assert [(a.title, [t.title for t in a.tasks]) for a in notice.areas] == [
        ("政治建设", ["理论学习不深入", "意识形态责任落实不到位"]),
        ("作风建设", ["文风会风不实"]),
    ]
    assert notice.warnings == []


def test_sections_reporting_what_was_done_are_not_areas() -> None:
    notice = parse_notice(
        "中共某某省粮食集团有限公司委员会\n关于省委巡视整改进展情况的通报\n"
        "2024年3月1日至5月10日，省委第二巡视组对集团党委进行了巡视。2024年6月20日反馈了巡视意见。\n"
        "一、提高政治站位，扛牢巡视整改政治责任\n"
        "（一）迅速召开会议部署。集团党委第一时间召开会议。\n"
        "（二）建立台账推进整改。逐项建立台账。\n"
        "二、关于贯彻落实党中央决策部署方面\n"
        "（一）关于“服务粮食安全不够有力”的问题\n"
        "整改情况：一是新建仓容20万吨；二是开展政策性粮食清仓查库。\n"
        "三、关于全面从严治党方面\n"
        "（一）关于落实八项规定精神不严格的问题\n"
        "整改情况：开展专项治理。\n"
        "四、巩固整改成果，建立长效机制\n"
        "（一）持续抓好后续整改。\n"
    )
    assert [(a.number, a.title, [t.title for t in a.tasks]) for a in notice.areas] == [
        (1, "贯彻落实党中央决策部署", ["服务粮食安全不够有力"]),
        (2, "全面从严治党", ["落实八项规定精神不严格"]),
    ]
    assert notice.warnings == []


def test_problems_numbered_once_through_the_whole_text() -> None:
    notice = parse_notice(
        small_notice(
            rectification=(
                "（一）理论学习不够深入\n"
                "1.在学习制度落实不到位方面。一是修订学习制度。\n"
                "2.在学习成效不明显方面。组织专题研讨。\n"
                "（二）作风建设有差距\n"
                "3.在文风会风不实方面。一是精简文件；二是压缩会议。\n"
            )
        )
    )
    assert [[t.number for t in area.tasks] for area in notice.areas] == [[1, 2], [3]]
    assert notice.warnings == []


def test_article_with_a_problems_heading_is_not_a_notice() -> None:
    with pytest.raises(NotANotice):
        parse_notice("一、存在的主要问题\n（一）道路拥堵\n1.早高峰车多。一是错峰出行。\n")


# --- Files: .txt, .docx and what is neither -------------------------------------------

VALID = [
    "portal-halfwidth.txt",
    "pdf-wrapped.txt",
    "no-top-level.gb18030.txt",
    "four-levels.txt",
    "top-level-areas.txt",
    "feedback-opinion.txt",
]


def write_docx(path: Path, lines: list[str]) -> Path:
    """A Word document with one paragraph per line (blank lines become empty paragraphs)."""
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    document.save(str(path))
    return path


@pytest.mark.parametrize("name", VALID)
def test_docx_reads_like_its_text(name: str, tmp_path: Path) -> None:
    text = read_notice_file(NOTICES / name)
    path = write_docx(tmp_path / "通报.docx", text.splitlines())
    assert summary_of(path) == summary_of(NOTICES / name)


def test_dandong_as_docx(tmp_path: Path, dandong: ParsedNotice) -> None:
    path = write_docx(tmp_path / "丹东.docx", FIXTURE.read_text(encoding="utf-8").splitlines())
    assert parse_notice(read_notice_file(path)) == dandong


def test_docx_with_the_ledger_in_a_table(tmp_path: Path) -> None:
    document = docx.Document()
    for line in [
        "中共某某县文化局党组",
        "关于县委巡察整改进展情况的通报",
        "2024年3月1日至5月10日，县委第一巡察组对县文化局党组进行了巡察。"
        "2024年6月20日，县委巡察组反馈了巡察意见。局党组明确了2个方面3项整改任务。",
        "二、巡察整改落实情况",
    ]:
        document.add_paragraph(line)
    rows = [
        ["序号", "问题类别", "反馈问题", "整改措施", "责任单位", "完成时限"],
        ["1", "理论学习不够深入", "在学习制度落实不到位方面", "", "办公室", "2024年9月30日"],
        ["2", "理论学习不够深入", "学习成效不明显", "", "办公室", "长期坚持"],
        ["3", "作风建设有差距", "文风会风不实", "精简文件，压缩会议。", "综合科", "立行立改"],
    ]
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    table.cell(1, 3).text = "一是修订学习制度。二是每月集中学习一次。"
    table.cell(2, 3).text = "组织专题研讨"
    table.cell(2, 3).add_paragraph("形成调研报告")
    table.cell(2, 1).text = ""
    table.cell(1, 1).merge(table.cell(2, 1)).text = "理论学习不够深入"  # spans two rows
    document.add_paragraph("三、下一步工作打算")
    contacts = document.add_table(rows=1, cols=2)
    contacts.cell(0, 0).text = "联系电话"
    contacts.cell(0, 1).text = "0000-1234567"
    path = tmp_path / "台账.docx"
    document.save(str(path))

    summary = summary_of(path)
    assert outline(summary) == [
        ("理论学习不够深入", [("学习制度落实不到位", 2), ("学习成效不明显", 2)]),
        ("作风建设有差距", [("文风会风不实", 1)]),
    ]
    assert measures_of(summary, 0, 1) == ["组织专题研讨", "形成调研报告"]
    assert summary["inspection"]["feedback"] == "2024-06-20"
    assert summary["warnings"] == []


def test_docx_with_word_automatic_numbering(tmp_path: Path) -> None:
    """Numbers Word generates ("（一）", "1.") are not in the text; they are written out."""
    document = docx.Document()
    numbering = document.part.numbering_part.element
    numbering.insert(
        0,
        parse_xml(
            f'<w:abstractNum {nsdecls("w")} w:abstractNumId="90">'
            '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/>'
            '<w:lvlText w:val="（%1）"/></w:lvl>'
            '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/>'
            '<w:lvlText w:val="%2."/></w:lvl>'
            "</w:abstractNum>"
        ),
    )
    numbering.append(
        parse_xml(f'<w:num {nsdecls("w")} w:numId="90"><w:abstractNumId w:val="90"/></w:num>')
    )

    def numbered(text: str, level: int) -> None:
        paragraph = document.add_paragraph(text)
        paragraph._p.get_or_add_pPr().append(
            parse_xml(
                f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="90"/></w:numPr>'
            )
        )

    document.add_paragraph("中共某某县文化局党组")
    document.add_paragraph("关于县委巡察整改进展情况的通报")
    document.add_paragraph("2024年3月1日至5月10日，县委第一巡察组对县文化局党组进行了巡察。")
    document.add_paragraph("二、巡察整改落实情况")
    numbered("理论学习不够深入", 0)
    numbered("在学习制度落实不到位方面。一是修订学习制度。二是每月集中学习一次。", 1)
    numbered("在学习成效不明显方面。组织专题研讨，形成调研报告。", 1)
    numbered("作风建设有差距", 0)
    numbered("在文风会风不实方面。一是精简文件；二是压缩会议。", 1)
    path = tmp_path / "自动编号.docx"
    document.save(str(path))

    text = read_notice_file(path)
    assert "（二）作风建设有差距" in text.splitlines()
    assert "1.在文风会风不实方面。一是精简文件；二是压缩会议。" in text.splitlines()
    assert outline(summary_of(path)) == [
        ("理论学习不够深入", [("学习制度落实不到位", 2), ("学习成效不明显", 1)]),
        ("作风建设有差距", [("文风会风不实", 2)]),
    ]


def test_docx_tracked_changes_read_as_accepted(tmp_path: Path) -> None:
    document = docx.Document()
    for line in read_notice_file(NOTICES / "feedback-opinion.txt").splitlines():
        paragraph = document.add_paragraph(line)
        if line.startswith("1.林长制落实不到位"):
            paragraph._p.append(
                parse_xml(
                    f'<w:del {nsdecls("w")} w:id="1" w:author="a" w:date="2025-01-01T00:00:00Z">'
                    "<w:r><w:delText>已删除的旧文字。</w:delText></w:r></w:del>"
                )
            )
            paragraph._p.append(
                parse_xml(
                    f'<w:ins {nsdecls("w")} w:id="2" w:author="a" w:date="2025-01-01T00:00:00Z">'
                    "<w:r><w:t>新增的修订文字。</w:t></w:r></w:ins>"
                )
            )
    path = tmp_path / "修订.docx"
    document.save(str(path))
    assert measures_of(summary_of(path), 0, 0) == [
        "部分县级林长巡林次数不足，问题整改跟踪不及时。新增的修订文字。"
    ]


def test_docx_saved_as_txt_is_read_as_word(tmp_path: Path) -> None:
    source = write_docx(
        tmp_path / "a.docx", read_notice_file(NOTICES / "four-levels.txt").split("\n")
    )
    renamed = tmp_path / "通报.txt"
    renamed.write_bytes(source.read_bytes())
    assert summary_of(renamed) == summary_of(NOTICES / "four-levels.txt")


def _xlsx_bytes() -> bytes:
    workbook = Workbook()
    workbook.active.append(["序号", "问题", "整改措施"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _broken_docx_bytes(tmp_path: Path) -> bytes:
    data = write_docx(tmp_path / "whole.docx", ["整改"]).read_bytes()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("empty.txt", lambda _: b"", NotANotice, "内容为空"),
        ("blank.txt", lambda _: " \r\n\u3000\r\n".encode(), NotANotice, "内容为空"),
        ("sheet.txt", lambda _: _xlsx_bytes(), BadInput, "这是 Excel 表格"),
        ("sheet.docx", lambda _: _xlsx_bytes(), BadInput, "这是 Excel 表格"),
        ("binary.txt", lambda _: bytes(range(256)) * 8, BadInput, "无法读取通报文件"),
        ("scan.txt", lambda _: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", BadInput, "这是 PDF 文件"),
        ("old.txt", lambda _: OLE_MAGIC + b"\x00" * 64, BadInput, "旧版 Office"),
        ("fake.docx", lambda _: "整改通报".encode(), BadInput, "不是有效的 Word 文件"),
        ("torn.docx", _broken_docx_bytes, BadInput, "不是有效的 Word 文件"),
    ],
)
def test_unreadable_files_get_a_clear_error(
    tmp_path: Path, name: str, content, error: type[Exception], message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content(tmp_path))
    with pytest.raises(error, match=message):
        parse_notice(read_notice_file(path))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("通报.pdf", "不支持 PDF 文件"),
        ("通报.doc", "不支持旧版 Word/WPS 文件"),
        ("通报.xlsx", "不支持的文件类型（.xlsx）"),
        ("通报", "不支持的文件类型（无扩展名）"),
    ],
)
def test_unsupported_file_types(tmp_path: Path, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    with pytest.raises(BadInput, match=message):
        read_notice_file(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="找不到通报文件"):
        read_notice_file(tmp_path / "nowhere.txt")
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    with pytest.raises(BadInput, match="是文件夹"):
        read_notice_file(folder)
