"""deploy/.env.example lists every setting, and what it sets is valid."""

import re

from models.settings import Settings
from tests.paths import TESTS

EXAMPLE = TESTS.parent / "deploy" / ".env.example"
LINE = re.compile(r"^(#\s*)?(RECTIFY_[A-Z_]+)=(.*)$")


def test_the_example_names_every_setting_once():
    names = [m.group(2) for line in EXAMPLE.read_text().splitlines() if (m := LINE.match(line))]
    assert sorted(names) == sorted(f"RECTIFY_{field.upper()}" for field in Settings.model_fields)
    assert len(names) == len(set(names))


def test_the_example_with_every_option_switched_on_is_valid_settings(monkeypatch):
    for line in EXAMPLE.read_text().splitlines():
        if match := LINE.match(line):
            monkeypatch.setenv(match.group(2), match.group(3))
    current = Settings()
    assert current.smtp_host == "smtp.example.gov.cn" and current.smtp_port == 587
    assert current.db_url.startswith("postgresql+psycopg://")
    assert "ofd" in current.evidence_allowed_types
