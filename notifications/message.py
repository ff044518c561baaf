"""The e-mail made from an outbox row: headers, plain text and HTML alternative."""

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from models.mail import OutboxMessage


def message_id(row: OutboxMessage, domain: str) -> str:
    """Derived from the row alone, so a resend after a crash carries the same Message-ID."""
    digest = hashlib.sha256(row.key.encode("utf-8")).hexdigest()[:16]
    return f"<outbox-{row.id}-{digest}@{domain}>"


def build_email(row: OutboxMessage, *, sender: str, domain: str, now: datetime) -> EmailMessage:
    """An EmailMessage with the default policy, which refuses CR/LF in any header value."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(row, domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message["X-Rectify-Kind"] = row.kind
    message.set_content(row.text)
    message.add_alternative(row.html, subtype="html")
    return message
