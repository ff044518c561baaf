"""Settings read from the environment (RECTIFY_*), validated once at start-up."""

import email.policy
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.evidence import EvidencePolicy

DEFAULT_EVIDENCE_TYPES = [
    *("pdf", "ofd", "jpg", "jpeg", "png", "gif", "webp"),
    *("doc", "docx", "xls", "xlsx", "ppt", "pptx", "wps", "et", "txt", "zip", "mp4"),
]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_MAIL_FROM = "Rectify <rectify@localhost>"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


class SmtpSecurity(StrEnum):
    NONE = "none"  # plain SMTP, never upgraded (a relay on the same host)
    STARTTLS = "starttls"  # plain connection upgraded with STARTTLS, usually port 587
    TLS = "tls"  # TLS from the first byte (SMTPS), usually port 465


DEFAULT_SMTP_PORTS = {SmtpSecurity.NONE: 25, SmtpSecurity.STARTTLS: 587, SmtpSecurity.TLS: 465}


@lru_cache(maxsize=8)
def _addr_spec(mailbox: str) -> str:
    """ "整改办 <zgb@example.gov.cn>" → "zgb@example.gov.cn"; parsed once, asked per message."""
    return email.policy.default.header_factory("From", mailbox).addresses[0].addr_spec


class Settings(BaseSettings):
    """Where Rectify keeps its data and how it treats evidence files."""

    model_config = SettingsConfigDict(env_prefix="RECTIFY_", extra="ignore")

    home: Path = Path("rectify-data")
    database_url: str | None = None
    evidence_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    evidence_allowed_types: Annotated[list[str], NoDecode] = DEFAULT_EVIDENCE_TYPES

    # Mail. Without RECTIFY_SMTP_HOST every message is captured under RECTIFY_HOME/mail/.
    base_url: str = DEFAULT_BASE_URL  # where links in messages point (the web desk)
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)  # default by security
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_username: str | None = None
    smtp_password: SecretStr | None = Field(default=None, validate_default=True)
    smtp_timeout: float = Field(default=30.0, gt=0, le=600)  # seconds, per SMTP command
    mail_from: str = DEFAULT_MAIL_FROM
    mail_connections: int = Field(default=8, ge=1, le=32)  # SMTP connections in parallel
    # Pages the desk builds at once. Python runs one thread at a time: more threads only
    # take turns (20 at once cost 40-80% more CPU per page); a few let I/O overlap.
    desk_threads: int = Field(default=2, ge=1, le=64)
    # The local Prefect API that `rectify run` starts (its state under RECTIFY_HOME/prefect).
    prefect_port: int = Field(default=4200, ge=1, le=65535)
    # Post every workflow action as a Prefect event (rectify.task.approved, …) when a
    # Prefect API is configured. `rectify run` turns it off: its local API keeps no events.
    prefect_events: bool = True

    @property
    def evidence_policy(self) -> EvidencePolicy:
        """What an evidence upload may be, for every way files come in (CLI, desk, demo)."""
        return EvidencePolicy(
            max_bytes=self.evidence_max_bytes, allowed_types=tuple(self.evidence_allowed_types)
        )

    @field_validator("evidence_allowed_types", mode="before")
    @classmethod
    def _split_types(cls, value: object) -> object:
        """Accept "pdf, jpg" from the environment; store lower-case extensions without dots."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return [str(v).strip().lower().lstrip(".") for v in value if str(v).strip()]
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or _CONTROL.search(value):
            raise ValueError(f"应为 http:// 或 https:// 开头的网址，例如 {DEFAULT_BASE_URL}")
        if parts.query or parts.fragment:
            raise ValueError("网址不应包含 ? 或 # 部分")
        return value

    @field_validator("smtp_host", "smtp_username", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if _CONTROL.search(value) or " " in value:
                raise ValueError("不能包含空格或控制字符")
            return value or None
        return value

    @field_validator("smtp_security", mode="before")
    @classmethod
    def _lower_security(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("smtp_password")
    @classmethod
    def _password_with_username(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            value = None
        username = info.data.get("smtp_username")
        if username and value is None:
            raise ValueError("设置了 RECTIFY_SMTP_USERNAME，还需要设置 RECTIFY_SMTP_PASSWORD")
        if value is not None and not username:
            raise ValueError("设置了 RECTIFY_SMTP_PASSWORD，还需要设置 RECTIFY_SMTP_USERNAME")
        return value

    @field_validator("mail_from")
    @classmethod
    def _check_mail_from(cls, value: str) -> str:
        """One address, e.g. "整改办 <zgb@example.gov.cn>"; no line breaks (no header tricks)."""
        value = value.strip()
        problem = "应为一个邮箱地址，例如 整改办 <zgb@example.gov.cn>"
        if not value or _CONTROL.search(value):
            raise ValueError(problem)
        try:
            header = email.policy.default.header_factory("From", value)
        except Exception:  # the header parser raises several types on garbage
            raise ValueError(problem) from None
        addresses = getattr(header, "addresses", ())
        if header.defects or len(addresses) != 1 or not addresses[0].domain:
            raise ValueError(problem)
        if not addresses[0].username:
            raise ValueError(problem)
        return str(addresses[0])

    @property
    def smtp_port_or_default(self) -> int:
        return self.smtp_port or DEFAULT_SMTP_PORTS[self.smtp_security]

    @property
    def mail_from_address(self) -> str:
        """The bare sender address (the SMTP envelope sender)."""
        return _addr_spec(self.mail_from)

    @property
    def mail_domain(self) -> str:
        """The sender's domain: Message-IDs are made under it."""
        return self.mail_from_address.rsplit("@", 1)[1]

    @property
    def mail_capture_dir(self) -> Path:
        """Where messages go when no SMTP server is configured (one .eml per message)."""
        return self.home / "mail"

    @property
    def db_url(self) -> str:
        """The configured database, or a SQLite file under the data folder."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.home / 'rectify.db').resolve()}"


def normalise_database_url(url: str) -> str:
    """Let users write postgresql://… and still get the psycopg 3 driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
