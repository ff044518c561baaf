"""Evidence files, stored once by content hash under the data folder.

The stored path is derived from the SHA-256 of the bytes only, so a file name (which is
kept as data) can never choose where anything is written.
"""

import hashlib
import mimetypes
import os
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session, select

from models.errors import BadInput
from models.records import Evidence

CHUNK = 1024 * 1024

# Leading bytes of the types whose content we can recognise; a file claiming one of these
# extensions must start with one of them, so a renamed executable is not stored as a "PDF".
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "webp": (b"RIFF",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "pptx": (b"PK\x03\x04",),
    "ofd": (b"PK\x03\x04",),
    "zip": (b"PK\x03\x04",),
    "doc": (b"\xd0\xcf\x11\xe0",),
    "xls": (b"\xd0\xcf\x11\xe0",),
    "ppt": (b"\xd0\xcf\x11\xe0",),
}
EXTRA_TYPES = {
    "ofd": "application/ofd",
    "wps": "application/vnd.ms-works",
    "et": "application/vnd.ms-excel",
}


@dataclass(frozen=True)
class EvidencePolicy:
    max_bytes: int
    allowed_types: tuple[str, ...]


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    name: str
    content_type: str
    created: bool = False  # the bytes were not in the store before this upload
    stamp: int | None = None  # the blob's mtime (ns) as this upload wrote it (see `_reuse`)


def safe_name(name: str) -> str:
    """The bare file name a user gave, without any directory part or control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if base in {"", ".", ".."}:
        raise BadInput(f"文件名无效：{name!r}")
    return base[:255]


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def content_type_of(name: str) -> str:
    ext = extension(name)
    return EXTRA_TYPES.get(ext) or mimetypes.guess_type(f"x.{ext}")[0] or "application/octet-stream"


def blob_path(home: Path, sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise BadInput(f"不是有效的文件哈希：{sha256}")
    return home / "evidence" / sha256[:2] / sha256[2:4] / sha256


def store_file(home: Path, source: BinaryIO, name: str, policy: EvidencePolicy) -> StoredFile:
    """Copy a file into the evidence store, refusing it whole if it breaks the policy."""
    name = safe_name(name)
    ext = extension(name)
    if ext not in policy.allowed_types:
        allowed = "、".join(policy.allowed_types)
        raise BadInput(f"不允许的文件类型“.{ext}”（{name}）；允许：{allowed}")
    folder = home / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False) as tmp:
        try:
            first = source.read(CHUNK)
            _check_signature(name, ext, first)
            chunk = first
            while chunk:
                size += len(chunk)
                if size > policy.max_bytes:
                    raise BadInput(f"文件过大：{name} 超过 {_human(policy.max_bytes)} 的上限")
                digest.update(chunk)
                tmp.write(chunk)
                chunk = source.read(CHUNK)
            if size == 0:
                raise BadInput(f"文件为空：{name}")
            tmp.flush()
            os.fsync(tmp.fileno())
            stamp = os.fstat(tmp.fileno()).st_mtime_ns
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)
            raise
    sha = digest.hexdigest()
    target = blob_path(home, sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    created = not _reuse(target)
    if created:
        os.replace(tmp.name, target)  # the same bytes, if another upload beat us to it
    else:
        os.unlink(tmp.name)  # same bytes already stored
    return StoredFile(sha256=sha, size=size, name=name, content_type=content_type_of(name),
                      created=created, stamp=stamp if created else None)  # fmt: skip


def _reuse(target: Path) -> bool:
    """Take the stored copy of these bytes, if there is one, and say so to its creator.

    An upload that created a blob and then failed removes it (`discard_unreferenced`), and
    another desk may have just found that blob and be about to commit a row pointing at it.
    So a reuse moves the blob's mtime on: the creator sees it and keeps the blob. If the
    blob went away meanwhile, the caller stores its own copy.
    """
    try:
        seen = os.stat(target)
        os.utime(target, ns=(seen.st_atime_ns, seen.st_mtime_ns + 1))
    except FileNotFoundError:
        return False
    return True


def discard_unreferenced(session: Session, home: Path, files: list[StoredFile]) -> None:
    """After a refused upload, remove the bytes it added that nothing refers to.

    A blob is first moved aside (atomically), then checked: if another upload reused it
    meanwhile (its mtime moved on, `_reuse`) it is put back; an upload that looks for it
    after the move finds nothing and stores its own copy. So a blob another request is
    about to refer to is never lost.
    """
    new = {f.sha256: f for f in files if f.created}
    if not new:
        return
    referenced = set(session.exec(select(Evidence.sha256).where(Evidence.sha256.in_(new))).all())
    for sha, stored in new.items():
        if sha in referenced:
            continue
        target = blob_path(home, sha)
        aside = target.with_name(f".discard-{uuid.uuid4().hex}")
        try:
            os.replace(target, aside)
        except FileNotFoundError:
            continue
        if os.stat(aside).st_mtime_ns != stored.stamp:
            os.replace(aside, target)  # reused meanwhile: it stays
        else:
            os.unlink(aside)


def _check_signature(name: str, ext: str, head: bytes) -> None:
    signatures = SIGNATURES.get(ext)
    if signatures and not head.startswith(signatures):
        raise BadInput(f"文件内容与扩展名不符：{name} 不是有效的 .{ext} 文件")


def _human(size: int) -> str:
    if size >= 1024**2:
        return f"{size / 1024**2:.4g} MB"
    if size >= 1024:
        return f"{size / 1024:.4g} KB"
    return f"{size} B"
