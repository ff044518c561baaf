"""Getting a notice's text from a file: refusing what cannot be a notice, decoding the rest.

Plain text may be UTF-8 (BOM or not), GB18030 or UTF-16 with a BOM; a .docx is handed to
the Word reader.
"""

from pathlib import Path

from flows.notice.docx_text import ZIP_MAGIC, read_docx_text, zip_complaint
from models.errors import BadInput

SUPPORTED_SUFFIXES = (".txt", ".docx")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_notice_file(path: Path) -> str:
    """The text of a notice file: .txt (UTF-8 or GB18030) or .docx (Word)."""
    path = Path(path)
    return decode_notice(read_notice_bytes(path), path.suffix)


def read_notice_bytes(path: Path) -> bytes:
    """A notice file's bytes, refusing what cannot be a notice before reading it."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"找不到通报文件：{path}")
    if path.is_dir():
        raise BadInput(f"“{path}”是文件夹，请指定通报文件（.txt 或 .docx）")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        if suffix in (".doc", ".wps", ".rtf"):
            raise BadInput(f"不支持旧版 Word/WPS 文件（{suffix}）：请另存为 .docx 后重试")
        if suffix == ".pdf":
            raise BadInput("不支持 PDF 文件：请提供通报的 .docx 文件，或把正文另存为 .txt")
        shown = suffix or "无扩展名"
        raise BadInput(f"不支持的文件类型（{shown}）：请提供 .txt 或 .docx 格式的通报")
    try:
        return path.read_bytes()
    except OSError as error:
        raise BadInput(f"无法读取通报文件“{path}”：{error.strerror or error}") from error


def decode_notice(data: bytes, suffix: str) -> str:
    """The text of a notice file's bytes, by its suffix (and by what the bytes really are)."""
    if suffix.lower() == ".docx" or data.startswith(ZIP_MAGIC):
        return read_docx_text(data)
    return read_notice_text(data)


def read_notice_text(data: bytes) -> str:
    """Decode a plain-text notice: UTF-8 (with or without BOM), then GB18030.

    Chinese government documents are still often saved in GBK/GB18030 by desktop tools;
    Notepad's "Unicode" (UTF-16 with a byte-order mark) is accepted too.
    """
    _refuse_binary_formats(data)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    candidates: list[tuple[bytes, str]] = [(data, "utf-8"), (data, "gb18030")]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates.insert(0, (data, "utf-16"))
    for raw, encoding in candidates:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_binary(text):
            break  # a binary file that happened to decode
        return text
    raise BadInput(
        "无法读取通报文件：文件不是 UTF-8 或 GB18030 编码的纯文本，请另存为文本文件后重试"
    )


def _refuse_binary_formats(data: bytes) -> None:
    if data.startswith(ZIP_MAGIC):
        raise BadInput(zip_complaint(data))
    if data.startswith(b"%PDF"):
        raise BadInput("这是 PDF 文件，不是文本：请提供通报的 .docx 文件，或把正文另存为 .txt")
    if data.startswith(OLE_MAGIC):
        raise BadInput("这是旧版 Office 文件（.doc/.xls/.wps）：请用 Word 另存为 .docx 后重试")


def _looks_binary(text: str) -> bool:
    if "\x00" in text or "\uffff" in text or "\ufffe" in text:
        return True
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f\v")
    return controls > max(2, len(text) // 100)
