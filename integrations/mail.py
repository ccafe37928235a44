"""Outbound mail over SMTP. In development SMTP_HOST/PORT point at the local mail capture (sandboxes/).

Connections are kept and reused (at most `connections` of them, each used by one send at a time, on a thread
pool of that size): a burst of reminders or notices then costs one mail transaction each (MAIL, RCPT, DATA), not
a TCP connect, greeting, EHLO, STARTTLS and sign-in each (docs/performance.md has the figures). A kept
connection the server has closed meanwhile (its idle timeout) fails before any mail was accepted on it: the mail
then goes once more on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import smtplib
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

from opentelemetry import trace

log = logging.getLogger("taxpractice.mail")
_tracer = trace.get_tracer(__name__)


# A kept connection idle longer than this is closed rather than reused: servers drop idle sessions (RFC 5321
# allows 5 minutes; many relays use less), and a mail sent into a dropped one costs a failed attempt first.
IDLE_S = 30.0
# What a kept connection the server closed meanwhile raises on its first command.
_STALE = (smtplib.SMTPServerDisconnected, ConnectionError)


class Mailer:
    def __init__(self, host: str, port: int, sender: str, timeout_s: float = 10.0, starttls: bool = False,
                 username: str | None = None, password: str | None = None, connections: int = 8):
        self.host, self.port, self.sender, self.timeout_s = host, port, sender, timeout_s
        # STARTTLS: sign-in links and invitation tokens must not cross the network in clear. A server that does not
        # offer it gets no mail at all (smtplib raises), never a mail sent in clear instead.
        self.starttls, self.username, self.password = starttls, username, password
        self._idle: list[tuple[smtplib.SMTP, float]] = []  # (connection, when it was last used)
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="smtp")

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _kept(self) -> smtplib.SMTP | None:
        """A kept connection, idle for less than IDLE_S (older ones are closed)."""
        with self._lock:
            while self._idle:
                smtp, since = self._idle.pop()
                if time.monotonic() - since < IDLE_S:
                    return smtp
                _close(smtp)
        return None

    @contextlib.contextmanager
    def _using(self, smtp: smtplib.SMTP):
        """One mail on `smtp`: kept again after a clean send, closed otherwise (a refused or failed transaction
        leaves the session in a state not worth reusing)."""
        try:
            yield smtp
        except BaseException:
            _close(smtp)
            raise
        with self._lock:
            self._idle.append((smtp, time.monotonic()))

    def _transmit(self, message: EmailMessage) -> None:
        kept = self._kept()
        if kept is not None:
            try:
                with self._using(kept):
                    kept.send_message(message)
                return
            except _STALE:  # the server had closed it: nothing was accepted on it, so send on a new one
                pass
        with self._using(self._connect()) as smtp:
            smtp.send_message(message)

    def send_sync(self, to: str, subject: str, text: str, message_id: str | None = None,
                  attachments: tuple[tuple[str, str, bytes], ...] = ()) -> bool:
        """Send one mail; False when `to` cannot be mailed at all. Request bodies only accept ASCII addresses
        (api/schemas/base.py MailableEmail), but one stored before that rule would otherwise fail every time
        (smtplib refuses it without the server's SMTPUTF8), as a 500 or an activity retried forever."""
        if not to.isascii():
            # Neither the address nor the subject is logged (personal data); such addresses are found with
            # `WHERE email !~ '^[ -~]*$'` on clients, client_contacts and users.
            log.warning("mail not sent: the recipient address is not ASCII, which needs SMTPUTF8; correct it")
            return False
        message = EmailMessage()
        # The subject as one line: one built from text stored before request bodies refused line breaks (a
        # client's name) would otherwise make the mail library refuse the whole mail.
        message["From"], message["To"], message["Subject"] = self.sender, to, " ".join(subject.splitlines())
        if message_id is not None:  # the outbox's: the same for a repeat of the same mail
            message["Message-ID"] = message_id
        message.set_content(text)
        for filename, content_type, content in attachments:  # (filename, "type/subtype", bytes): a calendar invite
            maintype, subtype = content_type.split("/", 1)
            message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
        # A span of the caller's trace (docs/operations.md): the server only, never the recipient or the subject.
        with _tracer.start_as_current_span("smtp send", attributes={"server.address": self.host,
                                                                    "server.port": self.port}):
            self._transmit(message)
        return True

    async def send(self, to: str, subject: str, text: str, message_id: str | None = None,
                   attachments: tuple[tuple[str, str, bytes], ...] = ()) -> bool:
        # In the caller's context (as asyncio.to_thread would), so the span joins the caller's trace.
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, contextvars.copy_context().run, self.send_sync, to, subject, text, message_id,
            attachments)


def _close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.quit()
    smtp.close()
