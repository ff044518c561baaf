"""`rectify user add`: accounts for people on the staff list, and the first administrator."""

import re

from fastapi.testclient import TestClient

from cli.desk import desk_app
from models.settings import Settings
from tests.cli_harness import assert_one_line_error


def sign_in(client: TestClient, login: str, password: str) -> int:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"login": login, "password": password, "csrf": token})
    return answer.status_code


def test_the_first_administrator_is_created_and_signs_in(rectify):
    rectify.ok("init")

    added = rectify.ok("user", "add", "Admin@Example.cn", "--name", "管理员甲", "--role",
                       "系统管理员", "--password", "correct horse")  # fmt: skip

    assert "已新建人员并开通账号：管理员甲 <admin@example.cn>" in added.out
    assert rectify.scalar("SELECT COUNT(*) FROM account") == 1
    client = TestClient(desk_app(Settings()), follow_redirects=False)
    assert sign_in(client, "admin@example.cn", "wrong password") == 401
    assert sign_in(client, "ADMIN@example.cn", "correct horse") == 303
    assert client.get("/my").status_code == 200


def test_a_person_on_the_staff_list_gets_a_password_and_a_new_one_ends_old_sessions(demo):
    email = "hejingyi@qingchuan-water.example.cn"
    client = TestClient(desk_app(Settings()), follow_redirects=False)
    assert sign_in(client, email, "rectify-demo") == 303

    demo.ok("user", "add", email, "--password", "a new password")

    assert client.get("/my").status_code == 303  # the old session ended with the old password
    assert sign_in(client, email, "rectify-demo") == 401
    assert sign_in(client, email, "a new password") == 303


def test_bad_input_is_refused_and_changes_nothing(demo):
    before = demo.scalar("SELECT COUNT(*) FROM person"), demo.scalar("SELECT COUNT(*) FROM account")

    short = demo("user", "add", "hejingyi@qingchuan-water.example.cn", "--password", "short")
    unknown = demo("user", "add", "nobody@example.cn", "--password", "long enough")
    not_mail = demo("user", "add", "何静怡", "--password", "long enough")
    bad_role = demo("user", "add", "x@example.cn", "--name", "某人", "--role", "皇帝",
                    "--password", "long enough")  # fmt: skip

    assert_one_line_error(short, "密码至少 8 位")
    assert_one_line_error(unknown, "人员名单中没有 nobody@example.cn", "--name", "--role")
    assert_one_line_error(not_mail, "登录名须为邮箱")
    assert_one_line_error(bad_role, "未知的角色：皇帝")
    after = demo.scalar("SELECT COUNT(*) FROM person"), demo.scalar("SELECT COUNT(*) FROM account")
    assert after == before
