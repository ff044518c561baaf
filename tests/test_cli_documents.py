"""The document commands: import notice / ledger, export ledger / closed / notice."""

from docx import Document
from openpyxl import load_workbook

from models.stages import Stage
from tests.cli_harness import assert_one_line_error
from tests.paths import DANDONG_NOTICE

DANDONG = DANDONG_NOTICE


def test_a_dry_run_prints_the_notice_as_json_and_writes_nothing(rectify):
    rectify.ok("init")

    result = rectify.ok("import", "notice", DANDONG, "--dry-run", "--json").json

    assert result["inspection"] == {
        "group": "市委第二巡察组",
        "start": "2024-04-12",
        "end": "2024-07-12",
        "feedback": "2024-09-10",
        "publish_from": "2025-07-21",
        "publish_to": "2025-08-08",
    }
    assert [len(area["tasks"]) for area in result["areas"]] == [5, 5, 3, 4, 4, 5, 3, 4, 3]
    measures = sum(len(t["measures"]) for a in result["areas"] for t in a["tasks"])
    assert measures == 126
    assert result["stated"] == {"areas": 9, "tasks": 36, "measures": None}
    assert result["warnings"] == []
    assert set(result) == {"inspection", "areas", "stated", "warnings"}
    assert rectify.count("task") == 0 and rectify.count("audit_event") == 0


def test_importing_a_notice_twice_creates_one_inspection(rectify):
    rectify.ok("init")

    first = rectify.ok("import", "notice", DANDONG)
    second = rectify.ok("import", "notice", DANDONG)

    assert "已导入巡察" in first.out and "36 项整改任务" in first.out
    assert "已导入过" in second.out
    assert rectify.count("inspection") == 1
    assert rectify.count("task") == 36 and rectify.count("measure") == 126
    assert rectify.ok("ledger", "summary", "--json").json["tasks"] == 36


def test_a_file_that_is_not_a_notice_is_one_line_error_and_writes_nothing(rectify, tmp_path):
    rectify.ok("init")
    article = tmp_path / "新闻.txt"
    article.write_text("今天天气很好，我们去公园散步。\n晚上看了一场电影。\n", encoding="utf-8")

    assert_one_line_error(rectify("import", "notice", article), "不是整改通报")
    assert rectify.count("inspection") == 0


def test_an_officer_may_not_import_a_notice(demo):
    result = demo("import", "notice", DANDONG, "--as", "王志强")

    assert_one_line_error(result, "王志强", "无权导入")
    assert demo.count("inspection") == 1


def test_the_exports_write_the_ledger_the_closed_ledger_and_the_notice(demo, tmp_path):
    ledger, closed, notice = tmp_path / "台账.xlsx", tmp_path / "销号.xlsx", tmp_path / "通报.docx"

    assert "14 项任务" in demo.ok("export", "ledger", ledger).out
    assert "4 项任务" in demo.ok("export", "closed", closed).out  # 已销号 2, 回头看 1, 已巩固 1
    demo.ok("export", "notice", notice)

    header = [c.value for c in load_workbook(ledger).active[2]][:13]
    assert header == [
        *("序号", "方面", "问题", "整改措施", "责任领导", "牵头部门", "配合部门"),
        *("责任人", "整改时限", "时限类别", "进展情况", "状态", "红黄绿灯"),
    ]
    assert load_workbook(closed).active.max_row >= 5
    text = "\n".join(p.text for p in Document(notice).paragraphs)
    assert "关于市委巡察整改落实进展情况的通报" in text and "14项整改任务" in text


def test_a_ledger_filled_in_by_hand_assigns_through_the_workflow(demo, tmp_path):
    ledger = tmp_path / "台账.xlsx"
    demo.ok("export", "ledger", ledger)
    pending = demo.tasks(Stage.PENDING)[0]
    workbook = load_workbook(ledger)
    sheet = workbook.active
    row = next(r for r in sheet.iter_rows(min_row=3) if r[2].value == pending["title"])
    row[4].value, row[5].value, row[7].value = "陈立群", "财务审计科", "谢宏宇"
    row[8].value, row[9].value = "2027-03-31", "限期整改"
    workbook.save(ledger)

    result = demo.ok("import", "ledger", ledger, "--as", "许文博")

    assert "交办 1 项" in result.out
    shown = demo.show(pending["id"])
    assert (shown["stage"], shown["officer"], shown["deadline"]) == (
        "assigned",
        "谢宏宇",
        "2027-03-31",
    )
    assert shown["audit"][-1]["action"] == "assign" and shown["audit"][-1]["by"] == "许文博"


def test_a_ledger_with_bad_rows_names_each_and_changes_nothing(demo, tmp_path):
    ledger = tmp_path / "台账.xlsx"
    demo.ok("export", "ledger", ledger)
    workbook = load_workbook(ledger)
    rows = [
        r for r in workbook.active.iter_rows(min_row=3) if r[0].value and "." in str(r[0].value)
    ]
    rows[0][7].value = "查无此人"
    rows[1][8].value = "2027-02-30"
    workbook.save(ledger)
    events = demo.count("audit_event")

    result = demo("import", "ledger", ledger, "--as", "许文博")

    assert result.code == 1
    assert "找不到人员“查无此人”" in result.err and "“2027-02-30”不是日期" in result.err
    assert result.err.count("第 ") == 2
    assert demo.count("audit_event") == events
