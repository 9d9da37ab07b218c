"""Where the sender hands a message: an SMTP server, the console, or the outbox (a directory
the Messages page reads), chosen by EMAIL_URL; and the MIME bytes it hands over.

smtplib rather than Django's mail backend: the ledger needs the server's reply code for
each phase (RCPT, the DATA reply) and whether DATA was in flight when a connection died,
which Django's backend hides behind a count of sent messages. Django still builds the
MIME message.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import sys
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.encoding import punycode

from procedo.messaging.models import Message, MessageState, Provider


@dataclass(frozen=True)
class Outcome:
    state: str  # sent, queued (transient), failed (permanent), unknown
    answer: str
    provider_ref: str = ""


class TransportDown(Exception):
    """The server cannot be reached at all; nothing was handed over."""


class Transport(Protocol):
    # Stored on each row it takes (`Message.provider`): "sent" means "accepted by
    # an SMTP server" for one and "written to the outbox" for another.
    name: str

    def send(self, message: Message, payload: bytes) -> Outcome: ...
    def close(self) -> None: ...


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


def _envelope_address(address: str) -> str:
    """The address as an SMTP command carries it: an internationalised domain in punycode.

    Django's validator accepts `olena@приклад.укр`, and smtplib, which writes
    commands in ASCII, would raise UnicodeEncodeError in the middle of a batch.
    A non-ASCII local part (it needs SMTPUTF8) raises UnicodeError here instead:
    that message fails, alone.
    """
    local, at, domain = address.strip().rpartition("@")
    address = f"{local}@{punycode(domain)}" if at else domain
    address.encode("ascii")
    return address


def _outcome_of_reply(code: int, text: bytes | str) -> Outcome:
    answer = _reply(code, text)
    if 200 <= code < 300:
        return Outcome(MessageState.SENT, answer)
    if 400 <= code < 500:
        return Outcome(MessageState.QUEUED, answer)
    return Outcome(MessageState.FAILED, answer)


class SmtpTransport:
    """One SMTP connection for a batch, opened again after a 421 or a session RSET cannot clean."""

    name: str = Provider.SMTP

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.conn: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        cfg = self.config
        try:
            conn: smtplib.SMTP
            if cfg["ssl"]:
                conn = smtplib.SMTP_SSL(
                    cfg["host"],
                    cfg["port"],
                    timeout=cfg["timeout"],
                    context=ssl.create_default_context(),
                )
            else:
                conn = smtplib.SMTP(cfg["host"], cfg["port"], timeout=cfg["timeout"])
            conn.ehlo_or_helo_if_needed()
            if cfg["starttls"]:
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if cfg["username"]:
                conn.login(cfg["username"], cfg["password"])
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportDown(f"{type(exc).__name__}: {exc}") from exc
        return conn

    def send(self, message: Message, payload: bytes) -> Outcome:
        try:
            envelope_from = _envelope_address(message.from_email.rsplit("<", 1)[-1].rstrip(">"))
            envelope_to = _envelope_address(message.recipient)
        except UnicodeError as exc:
            return Outcome(MessageState.FAILED, f"cannot write the address for SMTP: {exc}")
        if self.conn is None:
            self.conn = self._open()
        conn = self.conn
        try:
            options = ["BODY=8BITMIME"] if conn.has_extn("8bitmime") else []
            code, text = conn.mail(envelope_from, options)
            if code == 250:
                code, text = conn.rcpt(envelope_to)
            if code not in (250, 251):
                return self._failed_transaction(code, text)
        except (OSError, smtplib.SMTPException) as exc:
            # Before DATA: the server has not got the message; try again later.
            self._drop()
            return Outcome(MessageState.QUEUED, f"{type(exc).__name__}: {exc}")
        try:
            code, text = conn.data(payload)
        except smtplib.SMTPDataError as exc:
            # smtplib raises this for any reply to the DATA command but 354, before
            # a byte of the message is written: the server refused, it did not get it.
            return self._failed_transaction(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            # DATA was in flight: the server may have accepted it before we lost it.
            self._drop()
            return Outcome(MessageState.UNKNOWN, f"{type(exc).__name__}: {exc}")
        if 200 <= code < 300:
            return _outcome_of_reply(code, text)
        return self._failed_transaction(code, text)

    def _failed_transaction(self, code: int, text: bytes | str) -> Outcome:
        """The outcome of a refused MAIL, RCPT or DATA, once the session is clean for the next.

        Going on in a session that the server closed, or broke, after refusing one
        message made every later message of the batch fail with it (a server that
        answers 500 to everything once confused; a disconnect charged to the next
        message). So: RSET, and unless it answers 250 the next message gets a new
        connection.
        """
        reset = 0  # 421: the server is closing the connection; no RSET then
        if code != 421 and self.conn is not None:
            with suppress(OSError, smtplib.SMTPException):
                reset, _ = self.conn.rset()
        if reset != 250:
            self._drop()
        return _outcome_of_reply(code, text)

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            with suppress(OSError, smtplib.SMTPException):
                self.conn.quit()
            self._drop()


class ConsoleTransport:
    name: str = Provider.CONSOLE

    def send(self, message: Message, payload: bytes) -> Outcome:
        sys.stdout.write(payload.decode("utf-8", "replace") + "\n" + "-" * 72 + "\n")
        sys.stdout.flush()
        return Outcome(MessageState.SENT, "console")

    def close(self) -> None:
        pass


class OutboxTransport:
    """The embedded default: each email written whole to `<directory>/<message id>.eml`.

    A real delivery path, not a stub: the bytes are the ones SMTP would carry
    (headers, unsubscribe link, Message-ID), written to a temporary file and
    renamed, so the outbox holds a whole message or none. Sending one again (a
    retry, a person's "send again") replaces its file: one message, one file.
    """

    name: str = Provider.OUTBOX

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: Message, payload: bytes) -> Outcome:
        path = outbox_path(message, self.directory)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(payload)
            os.replace(partial, path)
        except OSError as exc:
            with suppress(OSError):
                partial.unlink()
            # Nothing is in the outbox: the rows wait, as for an SMTP server that is down.
            raise TransportDown(f"cannot write to the outbox {self.directory}: {exc}") from exc
        return Outcome(MessageState.SENT, f"delivered to the outbox: {path}")

    def close(self) -> None:
        pass


def outbox_path(message: Message, directory: Path) -> Path:
    return directory / f"{message.pk}.eml"


def outbox_directory() -> Path | None:
    """The outbox, when it is where email goes (EMAIL_URL=outbox, the default)."""
    config = settings.PROCEDO_EMAIL
    return Path(config["directory"]) if config["backend"] == "outbox" else None


def transport_from_settings() -> Transport:
    config = settings.PROCEDO_EMAIL
    if config["backend"] == "console":
        return ConsoleTransport()
    if config["backend"] == "outbox":
        return OutboxTransport(Path(config["directory"]))
    return SmtpTransport(config)


def message_mime(message: Message) -> bytes:
    """The bytes handed to the server: the same Message-ID on every attempt."""
    headers = {"Message-ID": message.message_id}
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient],
        headers=headers,
    )
    for hook in _header_hooks:
        email.extra_headers.update(hook(message))
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    return email.message().as_bytes(linesep="\r\n")


# Other parts of messaging (unsubscribe) add headers per message.
_header_hooks: list[Callable[[Message], dict[str, str]]] = []


def header_hook_register(hook: Callable[[Message], dict[str, str]]) -> None:
    if hook not in _header_hooks:
        _header_hooks.append(hook)
