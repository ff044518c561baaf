"""How a message leaves: over SMTP, or captured into RECTIFY_HOME/mail/ when no server is set.

A transport sends one message at a time and reports failures in three kinds:
- PermanentFailure: the server refused this message for good (5xx); park it as failed;
- TransientFailure: try this message again later (4xx);
- ConnectionFailure: the connection is unusable (refused, timed out, TLS or login failed);
  try the message again later and stop using this connection for the current run.
"""

import asyncio
import os
import ssl
from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPNotSupported,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPStatus,
    SMTPTimeoutError,
)
from aiosmtplib.email import quote_address

from models.settings import Settings, SmtpSecurity


class DeliveryFailure(Exception):
    """A message was not delivered; str() is the reason kept on the row."""


class PermanentFailure(DeliveryFailure):
    pass


class TransientFailure(DeliveryFailure):
    pass


class ConnectionFailure(TransientFailure):
    pass


class Transport(Protocol):
    async def send(self, outbox_id: int, message: bytes, sender: str, recipient: str) -> None:
        """Deliver one message (its wire bytes, notifications.message.email_bytes)."""

    async def close(self) -> None: ...


# --- local capture ---------------------------------------------------------------------------


class CaptureTransport:
    """Writes each message to `folder/{outbox id}.eml` (the embedded default: no server)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, outbox_id: int, message: bytes, sender: str, recipient: str) -> None:
        try:
            await asyncio.to_thread(self._write, outbox_id, message)
        except OSError as error:
            raise ConnectionFailure(f"无法保存邮件到 {self.folder}：{error}") from error

    def _write(self, outbox_id: int, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{outbox_id}.eml"
        partial = target.with_suffix(".eml.part")
        partial.write_bytes(data)
        os.replace(partial, target)  # readers never see half a message

    async def close(self) -> None:
        return None


def captured_path(settings: Settings, outbox_id: int) -> Path:
    return settings.mail_capture_dir / f"{outbox_id}.eml"


# --- SMTP ----------------------------------------------------------------------------------


def _certificate_error(error: BaseException | None) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind an error, if that is what it is."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, ssl.SSLCertVerificationError):
            return error
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


def _reply(code: int, text: str) -> str:
    return f"{code} {' '.join(str(text).split())}".strip()


async def _transaction(
    client: aiosmtplib.SMTP, sender: str, recipient: str, message: bytes
) -> None:
    """One mail transaction: MAIL, RCPT, DATA, as aiosmtplib's `sendmail` does, less its
    work per message that changes nothing here: SIZE (optional, RFC 1870: a server refuses
    an oversized message after DATA instead), parsing both addresses twice (quoted once
    per address), and normalising a message that is already wire-ready. Delivery is
    CPU-bound beside a local server (BENCHMARKS.md, issue 7). A refusal resets the
    envelope, so that the connection can carry the next message."""
    reply = await client.execute_command(b"MAIL", b"FROM:" + _quoted(sender))
    if reply.code != SMTPStatus.completed:
        raise SMTPSenderRefused(reply.code, reply.message, sender)
    try:
        reply = await client.execute_command(b"RCPT", b"TO:" + _quoted(recipient))
        if reply.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
            raise SMTPRecipientRefused(reply.code, reply.message, recipient)
        if _wire_ready(message):
            await _data_as_is(client, message)
        else:
            await client.data(message)
    except SMTPResponseException:
        with suppress(SMTPResponseException, SMTPServerDisconnected, OSError):
            await client.rset()
        raise


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO, or HELO for a server that does not know it, as aiosmtplib's mail() would."""
    try:
        await client.ehlo()
    except SMTPHeloError:
        if not client.is_connected:
            raise
        await client.helo()


@lru_cache(maxsize=8192)
def _quoted(address: str) -> bytes:
    """<address> as aiosmtplib's mail() and rcpt() send it (ASCII: a non-ASCII address
    fails here with a ValueError, as there)."""
    return quote_address(address).encode("ascii")


def _wire_ready(message: bytes) -> bool:
    """Whether the message can go after DATA byte for byte: every line ended by CRLF, none
    starting with a dot. What Rectify builds always is (base64 bodies, headers without
    line breaks); these scans cost a few microseconds against the two regular-expression
    passes over the whole message that aiosmtplib's `data()` makes to ensure it."""
    crlf = message.count(b"\r\n")
    return (
        message.endswith(b"\r\n")
        and message.count(b"\n") == crlf
        and message.count(b"\r") == crlf
        and not message.startswith(b".")
        and b"\n." not in message
    )


async def _data_as_is(client: aiosmtplib.SMTP, message: bytes) -> None:
    """DATA, then the wire-ready message and its end mark, as aiosmtplib's `data()` sends
    them after normalising: the command through `execute_command`, the content through
    the connection's protocol (`write`, `read_response`: aiosmtplib 5, pinned below 6 in
    pyproject.toml), which this connection's one sender never interleaves with another
    command. tests/test_delivery.py sends both ways into aiosmtpd."""
    reply = await client.execute_command(b"DATA")
    if reply.code != SMTPStatus.start_input:
        raise SMTPDataError(reply.code, reply.message)
    protocol = client.protocol
    if protocol is None:
        raise SMTPServerDisconnected("Connection lost")
    try:
        protocol.write(message)
        protocol.write(b".\r\n")
        reply = await protocol.read_response(timeout=client.timeout)
    except (SMTPServerDisconnected, SMTPTimeoutError):
        client.close()  # as data() does: a connection out of step is not reused
        raise
    if reply.code != SMTPStatus.completed:
        raise SMTPDataError(reply.code, reply.message)


class SmtpTransport:
    """One reused aiosmtplib connection, opened on first use and reopened when dropped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.where = f"{settings.smtp_host}:{settings.smtp_port_or_default}"
        self.client: aiosmtplib.SMTP | None = None

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port_or_default,
            use_tls=s.smtp_security == SmtpSecurity.TLS,
            start_tls=s.smtp_security == SmtpSecurity.STARTTLS,  # never None (auto-upgrade)
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.smtp_timeout,
            local_hostname=s.mail_domain,  # no reverse DNS lookup of our own name
            validate_certs=True,
        )

    async def _connect(self) -> aiosmtplib.SMTP:
        await self.close()
        client = self._new_client()
        try:
            await client.connect()
            if client.is_ehlo_or_helo_needed:  # the transaction's commands do not greet
                await _greet(client)
        except Exception as error:
            client.close()
            raise self._connect_failure(error) from error
        self.client = client
        return client

    def _connect_failure(self, error: Exception) -> ConnectionFailure:
        certificate = _certificate_error(error)
        if certificate is not None:  # raw, or wrapped in SMTPConnectError with implicit TLS
            reason = certificate.verify_message or certificate
            return ConnectionFailure(f"邮件服务器 {self.where} 的证书校验失败：{reason}")
        if isinstance(error, ssl.SSLError):
            return ConnectionFailure(f"与邮件服务器 {self.where} 的 TLS 握手失败：{error}")
        if isinstance(error, SMTPAuthenticationError):
            reply = _reply(error.code, error.message)
            return ConnectionFailure(f"邮件服务器 {self.where} 拒绝登录：{reply}")
        if isinstance(error, SMTPResponseException):
            reply = _reply(error.code, error.message)
            return ConnectionFailure(f"邮件服务器 {self.where} 拒绝连接：{reply}")
        if isinstance(error, SMTPException | OSError):  # refused, unreachable, timed out
            return ConnectionFailure(f"无法连接邮件服务器 {self.where}：{error}")
        return ConnectionFailure(
            f"无法连接邮件服务器 {self.where}：{type(error).__name__}: {error}"
        )

    async def send(self, outbox_id: int, message: bytes, sender: str, recipient: str) -> None:
        client = self.client if self.client and self.client.is_connected else None
        reused = client is not None
        if client is None:
            client = await self._connect()
        try:
            await _transaction(client, sender, recipient, message)
        except SMTPServerDisconnected as error:
            if not reused:
                await self.close()
                raise ConnectionFailure(f"邮件服务器 {self.where} 断开了连接：{error}") from error
            # The server dropped an idle connection: reconnect once and send again.
            client = await self._connect()
            try:
                await _transaction(client, sender, recipient, message)
            except Exception as again:
                raise await self._failure(again) from again
        except Exception as error:
            raise await self._failure(error) from error

    async def _failure(self, error: Exception) -> DeliveryFailure:
        """Sort an exception from sending into permanent, transient or connection failure."""
        if isinstance(error, SMTPResponseException):
            reply = _reply(error.code, error.message)
            if error.code >= 500:
                return PermanentFailure(f"邮件服务器拒收：{reply}")
            if error.code == 421:  # the server is closing the connection
                await self.close()
                return ConnectionFailure(f"邮件服务器 {self.where} 暂停服务：{reply}")
            return TransientFailure(f"邮件服务器暂不接收：{reply}")
        if isinstance(error, SMTPNotSupported | ValueError):
            return PermanentFailure(f"邮件无法按此方式发送：{error}")
        await self.close()
        if isinstance(error, SMTPTimeoutError | TimeoutError):
            return ConnectionFailure(f"邮件服务器 {self.where} 响应超时：{error}")
        if isinstance(error, ssl.SSLError):
            return ConnectionFailure(f"与邮件服务器 {self.where} 的 TLS 连接出错：{error}")
        if isinstance(error, SMTPException | OSError):
            return ConnectionFailure(f"与邮件服务器 {self.where} 的连接出错：{error}")
        return ConnectionFailure(f"发送时出错：{type(error).__name__}: {error}")

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await client.quit()
        except Exception:
            client.close()


def open_transports(settings: Settings) -> list[Transport]:
    """The connections one delivery run uses: SMTP if configured, else local capture."""
    if settings.smtp_host:
        return [SmtpTransport(settings) for _ in range(settings.mail_connections)]
    return [CaptureTransport(settings.mail_capture_dir)]
