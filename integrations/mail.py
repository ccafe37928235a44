"""Outbound mail over SMTP. In development SMTP_HOST/PORT point at the local mail capture (sandboxes/)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage

from opentelemetry import trace

log = logging.getLogger("taxpractice.mail")
_tracer = trace.get_tracer(__name__)


class Mailer:
    def __init__(self, host: str, port: int, sender: str, timeout_s: float = 10.0, starttls: bool = False,
                 username: str | None = None, password: str | None = None):
        self.host, self.port, self.sender, self.timeout_s = host, port, sender, timeout_s
        # STARTTLS: sign-in links and invitation tokens must not cross the network in clear. A server that does not
        # offer it gets no mail at all (smtplib raises), never a mail sent in clear instead.
        self.starttls, self.username, self.password = starttls, username, password

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
                                                                    "server.port": self.port}), \
                smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
        return True

    async def send(self, to: str, subject: str, text: str, message_id: str | None = None,
                   attachments: tuple[tuple[str, str, bytes], ...] = ()) -> bool:
        return await asyncio.to_thread(self.send_sync, to, subject, text, message_id, attachments)
