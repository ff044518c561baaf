"""The e-mail made from an outbox row, as the bytes that go on the wire.

One builder for every path (SMTP, local capture, `rectify mail show`): the headers, then the
plain text with its HTML alternative, each UTF-8 in base64. The pieces come from the email
package (RFC 2047 encoded words, the folded From header, dates); the message is joined here
instead of through an EmailMessage, which costs about 2.5 ms a message in header parsing,
refolding and flattening against about 0.1 ms here, and delivery has a budget
(BENCHMARKS.md). Like the email package's default policy, a header value with CR or LF is
refused (ValueError): nothing a user typed can become a header.
"""

import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from functools import lru_cache
from typing import Protocol

from models.mail import OutboxMessage

CRLF = "\r\n"


class Content(Protocol):
    """What a message says: an OutboxBody, or a row of its two columns (delivery reads
    those alone, without building an ORM object per message)."""

    @property
    def text(self) -> str: ...

    @property
    def html(self) -> str: ...


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message; with a content id, an image its HTML shows inline."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None


def message_id(row: OutboxMessage, domain: str) -> str:
    """Derived from the row alone, so a resend after a crash carries the same Message-ID."""
    return f"<outbox-{row.id}-{_key_digest(row)}@{domain}>"


def _key_digest(row: OutboxMessage) -> str:
    return hashlib.sha256(row.key.encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=8)
def _from_header(sender: str) -> str:
    """ "From: …" as the email package folds and encodes it (the sender may have a Chinese
    name); the same for every message of a run, so made once."""
    return policy.SMTP.header_factory("From", sender).fold(policy=policy.SMTP)


def _header(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"信头 {name} 含有换行符")
    return f"{name}: {value}{CRLF}"


WORD_BYTES = 39  # UTF-8 bytes per encoded word: "Subject: =?utf-8?b?" + 52 + "?=" is 76


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 encoded words, UTF-8 in base64, each of whole characters and short enough
    for a 76-character line. The email package's Header makes the same words ten times
    slower, and a day's digests each have their own subject (their counts)."""
    words, chunk, size = [], [], 0
    for character in text:
        width = len(character.encode("utf-8"))
        if size + width > WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(character)
        size += width
    words.append("".join(chunk))
    return [
        f"=?utf-8?b?{binascii.b2a_base64(word.encode('utf-8'), newline=False).decode()}?="
        for word in words
    ]


@lru_cache(maxsize=4096)
def _subject(subject: str) -> str:
    """Plain ASCII as the email package folds it; anything else as encoded words, one to a
    line. Cached: a run's digests share many subjects."""
    _header("Subject", subject)  # the line-break check
    if subject.isascii():
        encoded = Header(subject, "us-ascii", header_name="Subject").encode(linesep=CRLF)
    else:
        encoded = f"{CRLF} ".join(_encoded_words(subject))
    return f"Subject: {encoded}{CRLF}"


@lru_cache(maxsize=64)
def _date(now: datetime) -> str:
    """The Date header, to the second: the messages of one second share it."""
    return _header("Date", format_datetime(now))


def _base64_lines(data: bytes) -> bytes:
    """Base64 in lines of 76 characters, each ended by CRLF (RFC 2045): encoded at once and
    cut, where base64.encodebytes encodes 57 bytes at a time and ends lines with LF alone."""
    encoded = binascii.b2a_base64(data, newline=False)
    if not encoded:
        return b""
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


def _part(content_type: str, body: str) -> bytes:
    encoded = _base64_lines(body.encode("utf-8"))
    head = f'Content-Type: {content_type}; charset="utf-8"{CRLF}'
    return (head + f"Content-Transfer-Encoding: base64{CRLF}{CRLF}").encode("ascii") + encoded


def email_bytes(
    row: OutboxMessage,
    body: Content,
    *,
    sender: str,
    domain: str,
    now: datetime,
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The whole message, CRLF line ends, ready for SMTP DATA or an .eml file.

    The boundary is derived from the row, like the Message-ID: a resend differs only in its
    Date. Base64 lines hold no "-", so they can never be taken for the boundary. The rare
    message with files (a dispatch report) is made by the email package instead.
    """
    headers = (
        _from_header(sender),
        _header("To", row.to_address),
        _subject(row.subject),
        _date(now.replace(microsecond=0)),
        _header("Message-ID", message_id(row, domain)),
        "Auto-Submitted: auto-generated" + CRLF,  # RFC 3834: no auto-replies, please
        _header("X-Rectify-Kind", row.kind),
    )
    if attachments:
        return _with_attachments("".join(headers), body, attachments)
    boundary = f"=_rectify_{_key_digest(row)}"
    head = "".join(
        (
            *headers,
            "MIME-Version: 1.0" + CRLF,
            f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}',
            CRLF,
        )
    )
    delimiter = f"--{boundary}{CRLF}".encode("ascii")
    return b"".join(
        (
            head.encode("ascii"),  # a non-ASCII address fails here (ValueError), not on the wire
            delimiter,
            _part("text/plain", body.text),
            delimiter,
            _part("text/html", body.html),
            f"--{boundary}--{CRLF}".encode("ascii"),
        )
    )


def _with_attachments(head: str, body: Content, attachments: Sequence[Attachment]) -> bytes:
    """multipart/mixed: the text, the HTML with its inline images, then the files."""
    message = EmailMessage(policy=policy.SMTP)
    message.set_content(body.text, cte="base64")  # 7-bit clean, like the usual path
    message.add_alternative(body.html, subtype="html", cte="base64")
    html = message.get_body(("html",))
    files = []
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if attachment.content_id:
            html.add_related(
                attachment.data,
                maintype,
                subtype,
                cid=f"<{attachment.content_id}>",
                filename=attachment.filename,
                disposition="inline",
            )
        else:
            files.append((attachment, maintype, subtype))
    for attachment, maintype, subtype in files:
        message.add_attachment(attachment.data, maintype, subtype, filename=attachment.filename)
    return head.encode("ascii") + message.as_bytes()


def build_email(
    row: OutboxMessage,
    body: Content,
    *,
    sender: str,
    domain: str,
    now: datetime,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """The same message parsed back, for reading it (`rectify mail show`, tests)."""
    data = email_bytes(row, body, sender=sender, domain=domain, now=now, attachments=attachments)
    return BytesParser(policy=policy.default).parsebytes(data)
