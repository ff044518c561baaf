"""The notice parser against a real published notice and small hand-made variants."""

from datetime import date
from pathlib import Path

import pytest

from flows.notice import NotANotice, ParsedNotice, parse_notice, read_notice_text
from models.errors import BadInput

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "fixtures"
    / "dandong-culture-tourism-2025-notice.txt"
)
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
    with pytest.raises(BadInput):
        read_notice_text("整改".encode("utf-16"))


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
