"""The `rectify` command, driven in-process on SQLite and PostgreSQL."""

import csv
import hashlib
import io
from pathlib import Path

import pytest
from openpyxl import Workbook

import cli
from models.lights import Light
from models.stages import Stage
from tests.cli_harness import (
    Rectify,
    Result,
    assert_one_line_error,
    clear_rectify_environment,
    write,
)
from tests.conftest import _postgres_database

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
OFFICE = "邓佳琪"  # 整改办 in flows/demo/people.csv


# --- init and the demo ------------------------------------------------------------------


def test_the_demo_ledger_summary_has_exactly_the_demo_counts(demo):
    summary = demo.ok("ledger", "summary", "--json").json

    assert set(summary) == {"areas", "tasks", "measures", "by_stage", "by_light"}
    assert (summary["areas"], summary["tasks"], summary["measures"]) == (4, 14, 44)
    assert summary["by_stage"] == {
        "pending": 1,
        "assigned": 2,
        "acting": 5,
        "evidence": 2,
        "signed_off": 2,
        "lookback": 1,
        "consolidated": 1,
    }
    assert set(summary["by_light"]) == {light.value for light in Light}
    assert sum(summary["by_light"].values()) == 14
    assert summary["by_light"]["done"] == 4  # signed off, under look-back, consolidated


def test_loading_the_demo_twice_changes_nothing(demo):
    before = demo.counts()
    files = demo.evidence_files()

    result = demo.ok("init", "--demo")

    assert "演示台账已存在" in result.out
    assert demo.counts() == before
    assert demo.evidence_files() == files
    assert before["task"] == 14


def test_init_on_a_migrated_database_is_a_no_op_upgrade(demo):
    before = demo.counts()
    revision = demo.scalar("SELECT version_num FROM alembic_version")

    demo.ok("init")

    assert demo.counts() == before
    assert demo.scalar("SELECT version_num FROM alembic_version") == revision


def test_the_demo_audit_trail_verifies(demo):
    result = demo.ok("audit", "verify")

    assert "审计记录完整" in result.out
    assert result.err == ""


def test_audit_verify_fails_and_names_the_task_and_event_after_a_raw_edit(demo):
    task_id = demo.tasks(Stage.ACTING)[0]["id"]
    demo.execute(
        "UPDATE audit_event SET actor_name = '冒名顶替者' WHERE task_id = :task AND seq = 2",
        task=task_id,
    )

    result = demo("audit", "verify")

    assert result.code != 0
    assert "Traceback" not in result.out + result.err
    assert f"任务 {task_id} 事件 #2" in result.err
    assert "审计记录核验未通过" in result.err


# --- a task from assignment to sign-off ----------------------------------------------------


def test_a_task_goes_from_assigned_to_signed_off_by_command(demo, tmp_path):
    task = demo.tasks(Stage.ASSIGNED)[0]
    officer = task["officer"]
    report = write(tmp_path / "files" / "整改报告.pdf", PDF)

    demo.ok("task", "start", task["id"], "--as", officer)
    assert demo.show(task["id"])["stage"] == Stage.ACTING
    demo.ok("task", "attach", task["id"], report, "--as", officer, "--description", "整改报告")
    demo.ok("task", "submit", task["id"], "--as", officer, "--summary", "各项措施已落实")
    assert demo.show(task["id"])["stage"] == Stage.EVIDENCE
    result = demo.ok("task", "approve", task["id"], "--as", OFFICE, "--comment", "同意销号")

    assert "已销号" in result.out
    shown = demo.show(task["id"])
    assert shown["stage"] == Stage.SIGNED_OFF
    sha = hashlib.sha256(PDF).hexdigest()
    assert [(e["name"], e["sha256"], e["by"]) for e in shown["evidence"]] == [
        ("整改报告.pdf", sha, officer)
    ]
    assert [(s["decision"], s["by"], s["evidence"]) for s in shown["sign_offs"]] == [
        ("approved", OFFICE, 1)
    ]
    assert [a["action"] for a in shown["audit"]][-4:] == [
        "start",
        "attach_evidence",
        "submit",
        "approve",
    ]
    assert (demo.home / "evidence" / sha[:2] / sha[2:4] / sha).read_bytes() == PDF
    demo.ok("audit", "verify")


# --- errors: one line, non-zero, no traceback -------------------------------------------


def test_an_unknown_task_is_one_line_error(demo):
    assert_one_line_error(demo("task", "show", 99999), "找不到任务 99999")


def test_an_unknown_person_is_one_line_error(demo):
    task_id = demo.tasks(Stage.ASSIGNED)[0]["id"]

    result = demo("task", "start", task_id, "--as", "查无此人")

    assert_one_line_error(result, "找不到人员“查无此人”")
    assert demo.show(task_id)["stage"] == Stage.ASSIGNED


def test_an_officer_approving_is_refused_in_one_line(demo):
    task = demo.tasks(Stage.EVIDENCE)[0]

    result = demo("task", "approve", task["id"], "--as", task["officer"])

    assert_one_line_error(result, task["officer"], "无权")
    assert demo.show(task["id"])["stage"] == Stage.EVIDENCE


def test_an_impossible_date_is_one_line_error(demo):
    task = demo.tasks(Stage.ACTING)[0]
    events = demo.count("audit_event")
    extension = ["--to", "2026-13-45", "--reason", "工程未完工"]

    result = demo("task", "request-extension", task["id"], "--as", task["officer"], *extension)

    assert_one_line_error(result, "2026-13-45")
    assert demo.count("audit_event") == events


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("task", "approve", "1"), "缺少 --as"),
        (("task", "nosuch"), "没有命令“nosuch”"),
        (("task", "show", "abc"), "TASK_ID 的值不正确"),
        (("task", "list", "--bogus"), "没有选项 --bogus"),
    ],
)
def test_a_usage_mistake_is_one_line_in_chinese_with_where_to_find_help(demo, args, fragment):
    result = demo(*args)

    assert_one_line_error(result, fragment, "--help")
    assert result.code == 2


def test_a_command_on_an_uninitialised_home_asks_for_rectify_init(tmp_path, monkeypatch, capsys):
    clear_rectify_environment(monkeypatch)
    monkeypatch.setenv("RECTIFY_HOME", str(tmp_path / "fresh-home"))

    code = cli.main(["task", "list"])

    out, err = capsys.readouterr()
    assert_one_line_error(Result(code, out, err), "rectify init")


def test_a_command_on_an_uninitialised_postgres_database_asks_for_rectify_init(
    tmp_path, monkeypatch, capsys
):
    clear_rectify_environment(monkeypatch)
    monkeypatch.setenv("RECTIFY_HOME", str(tmp_path / "home"))
    databases = _postgres_database()
    monkeypatch.setenv("RECTIFY_DATABASE_URL", next(databases))
    try:
        code = cli.main(["ledger", "summary"])
    finally:
        databases.close()

    out, err = capsys.readouterr()
    assert_one_line_error(Result(code, out, err), "rectify init")


# --- people import ------------------------------------------------------------------------

HEADER = ["姓名", "部门", "邮箱", "角色", "上级"]
GOOD_PEOPLE = [
    ["周一", "局领导", "zhouyi@example.cn", "领导小组", ""],
    ["吴二", "办公室", "wuer@example.cn", "部门负责人、责任人", "周一"],
    ["郑三", "办公室", "", "责任人", "吴二"],
    ["钱四", "巡察整改办公室", "QianSi@Example.cn", "整改办, 回头看", "周一"],
]
EXPECTED_ROLES = {
    "周一": (["leadership"], False),
    "吴二": (["leader", "officer"], True),
    "郑三": (["officer"], False),
    "钱四": (["office", "reviewer"], False),
}


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER, *rows])
    return write(path, buffer.getvalue().encode("utf-8"))


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for row in [HEADER, *rows]:
        sheet.append([cell or None for cell in row])
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def people_chain_events(rectify: Rectify) -> int:
    return rectify.scalar("SELECT COUNT(*) FROM audit_event WHERE chain = 'people'")


@pytest.mark.parametrize("write_file", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_a_good_staff_list_imports_people_with_roles(rectify, tmp_path, write_file):
    rectify.ok("init")
    suffix = "csv" if write_file is write_csv else "xlsx"
    staff = write_file(tmp_path / f"人员名单.{suffix}", GOOD_PEOPLE)

    result = rectify.ok("people", "import", staff)

    assert "新增 4 人" in result.out
    people = {p["name"]: p for p in rectify.ok("people", "list", "--json").json}
    assert {name: (p["roles"], p["heads_department"]) for name, p in people.items()} == (
        EXPECTED_ROLES
    )
    assert people["钱四"]["email"] == "qiansi@example.cn"
    assert people["郑三"]["email"] is None
    assert people_chain_events(rectify) == 1


@pytest.mark.parametrize("write_file", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_importing_the_same_staff_list_again_changes_nothing(rectify, tmp_path, write_file):
    rectify.ok("init")
    suffix = "csv" if write_file is write_csv else "xlsx"
    staff = write_file(tmp_path / f"人员名单.{suffix}", GOOD_PEOPLE)
    rectify.ok("people", "import", staff)
    before, events = rectify.counts(), people_chain_events(rectify)

    result = rectify.ok("people", "import", staff)

    assert "新增 0 人，更新 0 人" in result.out
    assert rectify.counts() == before
    assert people_chain_events(rectify) == events


def test_a_staff_list_with_bad_rows_imports_nobody_and_reports_every_row(rectify, tmp_path):
    rectify.ok("init")
    rectify.ok("people", "import", write_csv(tmp_path / "first.csv", GOOD_PEOPLE[:1]))
    before, events = rectify.counts(), people_chain_events(rectify)
    bad = write_csv(
        tmp_path / "bad.csv",
        [
            ["甲一", "办公室", "jiayi@example.cn", "责任人", "周一"],  # line 2: fine
            ["乙二", "办公室", "yier@example.cn", "打杂", "周一"],  # line 3: unknown role
            ["丙三", "办公室", "bingsan@example.cn", "责任人", "查无此人"],  # line 4
            ["丁四", "办公室", "not-an-email", "责任人", "周一"],  # line 5: bad e-mail
            ["戊五", "办公室", "wuwu1@example.cn", "责任人", ""],  # line 6: duplicate name
            ["戊五", "财务审计科", "wuwu2@example.cn", "责任人", ""],  # line 7: duplicate name
        ],
    )

    result = rectify("people", "import", bad)

    assert result.code != 0
    assert "Traceback" not in result.out + result.err
    for line, fragment in [
        (3, "角色：不认识“打杂”"),
        (4, "上级：找不到“查无此人”"),
        (5, "邮箱：“not-an-email”格式不正确"),
        (6, "姓名：“戊五”在文件中重复出现"),
        (7, "姓名：“戊五”在文件中重复出现"),
    ]:
        assert f"第 {line} 行 {fragment}" in result.err
    assert "第 2 行" not in result.err
    assert "未导入任何数据" in result.err
    assert rectify.counts() == before
    assert people_chain_events(rectify) == events


# --- evidence -----------------------------------------------------------------------------


@pytest.fixture
def acting(demo) -> dict:
    """A demo task in 整改中 and its officer, with the counts before any upload."""
    return demo.tasks(Stage.ACTING)[0]


def assert_nothing_stored(rectify: Rectify, task_id: int, files: set[Path], rows: int) -> None:
    assert rectify.count("evidence") == rows
    assert rectify.evidence_files() == files
    assert rectify.show(task_id)["evidence"] == []


def attach(rectify: Rectify, task: dict, *paths: Path) -> Result:
    return rectify("task", "attach", task["id"], *paths, "--as", task["officer"])


def test_an_oversized_file_is_refused_and_nothing_is_kept(demo, acting, tmp_path, monkeypatch):
    monkeypatch.setenv("RECTIFY_EVIDENCE_MAX_BYTES", "100")
    files, rows = demo.evidence_files(), demo.count("evidence")

    result = attach(demo, acting, write(tmp_path / "大文件.pdf", PDF.ljust(101, b"x")))

    assert_one_line_error(result, "文件过大", "大文件.pdf")
    assert_nothing_stored(demo, acting["id"], files, rows)


def test_a_file_of_exactly_the_limit_is_accepted(demo, acting, tmp_path, monkeypatch):
    monkeypatch.setenv("RECTIFY_EVIDENCE_MAX_BYTES", "100")

    result = attach(demo, acting, write(tmp_path / "刚好.pdf", PDF.ljust(100, b"x")))

    assert result.code == 0, result.err
    assert [e["size"] for e in demo.show(acting["id"])["evidence"]] == [100]


def test_a_disallowed_type_is_refused_and_nothing_is_kept(demo, acting, tmp_path):
    files, rows = demo.evidence_files(), demo.count("evidence")

    result = attach(demo, acting, write(tmp_path / "setup.exe", b"MZ\x90\x00" + b"\x00" * 64))

    assert_nothing_stored(demo, acting["id"], files, rows)
    assert_one_line_error(result, "不允许的文件类型“.exe”")


def test_a_file_whose_content_does_not_match_its_extension_is_refused(demo, acting, tmp_path):
    files, rows = demo.evidence_files(), demo.count("evidence")

    result = attach(demo, acting, write(tmp_path / "扫描件.pdf", PNG))

    assert_one_line_error(result, "文件内容与扩展名不符", "扫描件.pdf")
    assert_nothing_stored(demo, acting["id"], files, rows)


def test_a_refused_file_among_several_keeps_none_of_them(demo, acting, tmp_path):
    files, rows = demo.evidence_files(), demo.count("evidence")
    good = write(tmp_path / "报告.pdf", PDF)
    bad = write(tmp_path / "扫描件.pdf", PNG)

    result = attach(demo, acting, good, bad)

    assert_one_line_error(result, "文件内容与扩展名不符")
    assert_nothing_stored(demo, acting["id"], files, rows)


def test_a_missing_file_is_one_line_error(demo, acting, tmp_path):
    rows = demo.count("evidence")

    result = attach(demo, acting, tmp_path / "不存在.pdf")

    assert demo.count("evidence") == rows
    assert_one_line_error(result, "找不到文件")
