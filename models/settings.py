"""Settings read from the environment (RECTIFY_*), validated once at start-up."""

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_EVIDENCE_TYPES = [
    *("pdf", "ofd", "jpg", "jpeg", "png", "gif", "webp"),
    *("doc", "docx", "xls", "xlsx", "ppt", "pptx", "wps", "et", "txt", "zip", "mp4"),
]


class Settings(BaseSettings):
    """Where Rectify keeps its data and how it treats evidence files."""

    model_config = SettingsConfigDict(env_prefix="RECTIFY_", extra="ignore")

    home: Path = Path("rectify-data")
    database_url: str | None = None
    evidence_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    evidence_allowed_types: Annotated[list[str], NoDecode] = DEFAULT_EVIDENCE_TYPES

    @field_validator("evidence_allowed_types", mode="before")
    @classmethod
    def _split_types(cls, value: object) -> object:
        """Accept "pdf, jpg" from the environment; store lower-case extensions without dots."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return [str(v).strip().lower().lstrip(".") for v in value if str(v).strip()]
        return value

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
