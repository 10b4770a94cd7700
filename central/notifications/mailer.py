"""Mail by SMTP (smtplib): where to (ZAMIO_SMTP_URL), one connection for a job's messages, and
each message's fate: sent, refused for good (a 5xx reply to it), or to be tried again (no
connection, a timeout, a 4xx reply, the server gone mid-way).

    smtp://host:25                  plain SMTP (a relay on the same host or network)
    smtp+starttls://user:pw@host:587  STARTTLS, required, the certificate checked
    smtps://user:pw@host:465        TLS from the first byte, the certificate checked

User and password (percent-encoded in the URL) log in with AUTH; the URL is logged redacted.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
REPLY_CHARS_MAX = 300


class MailUnavailable(Exception):
    """This message could not be handed over now; try again later."""


class MailRefused(Exception):
    """The server refused this message for good (a 5xx reply)."""


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send mail, from ZAMIO_SMTP_URL, ZAMIO_MAIL_FROM, ZAMIO_SMTP_TIMEOUT_S."""

    scheme: str
    host: str
    port: int
    sender: str
    timeout_s: float
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def sender_domain(self) -> str:
        """The domain of the From address (Message-IDs are made in it)."""
        return parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"


def smtp_target(settings: Any) -> SmtpTarget | None:
    """The SMTP target of the settings, None when ZAMIO_SMTP_URL is unset."""
    if settings.smtp_url is None:
        return None
    parts = urlsplit(settings.smtp_url)
    assert parts.hostname, "checked by config.validate"
    return SmtpTarget(
        scheme=parts.scheme,
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[parts.scheme],
        sender=settings.mail_from,
        timeout_s=float(settings.smtp_timeout_s),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def build_message(
    target: SmtpTarget, to: str, subject: str, body: str, message_key: str
) -> EmailMessage:
    """A plain-text message; its Message-ID made from `message_key` (the same on a retry, so
    a server that saw it can tell)."""
    message = EmailMessage()
    message["From"] = target.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{message_key}@{target.sender_domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    message.set_content(body)
    return message


class Mailer:
    """One SMTP session, opened at the first send and reopened after a lost connection; use
    it as a context manager so it is closed."""

    def __init__(self, target: SmtpTarget) -> None:
        self.target = target
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self, kind: type | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Say QUIT (or just drop a broken connection)."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def send(self, message: EmailMessage) -> None:
        """Hand `message` to the server; MailRefused or MailUnavailable if it was not."""
        try:
            smtp = self._connection()
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            self._reset()
            code, reply = min(error.recipients.values())
            raise _by_code(code, smtplib.SMTPResponseException(code, reply)) from None
        except smtplib.SMTPResponseException as error:
            self._reset()
            raise _by_code(error.smtp_code, error) from None
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            raise MailUnavailable(f"{type(error).__name__}: {error}"[:REPLY_CHARS_MAX]) from None
        if refused:  # some recipients refused, others taken: each message has one
            code, reply = next(iter(refused.values()))
            raise _by_code(code, smtplib.SMTPResponseException(code, reply))

    def _connection(self) -> smtplib.SMTP:
        """The open session, or a new one (TLS and login as the target says)."""
        if self._smtp is not None:
            return self._smtp
        target = self.target
        smtp: smtplib.SMTP
        if target.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout_s,
                                    context=ssl.create_default_context())  # fmt: skip
        else:
            smtp = smtplib.SMTP(target.host, target.port, timeout=target.timeout_s)
        try:
            smtp.ehlo()
            if target.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if target.username is not None:
                smtp.login(target.username, target.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _reset(self) -> None:
        """After a refused message: RSET, so the session can carry the next one."""
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close()


def _by_code(code: int, error: smtplib.SMTPException) -> Exception:
    """A refusal with an SMTP reply code: 5xx is for good (535, failed login, is the
    operator's to fix, so it is tried again), anything else later."""
    reply = getattr(error, "smtp_error", b"")
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    detail = f"SMTP {code} {text}".strip()[:REPLY_CHARS_MAX]
    if 500 <= code < 600 and code != 535:
        return MailRefused(detail)
    return MailUnavailable(detail)
