"""One way to tell a person something, by mail and/or SMS.

Mail goes through `integrations.mail.Mailer` (SMTP). SMS goes through an email-to-SMS gateway: the message is
mailed to `<digits>@<SMS_EMAIL_DOMAIN>`, the interface most SMS providers (and the carriers' own gateways)
accept. In development SMTP is the mail capture, so a developer reads texts at
`GET <mail capture>/messages?to=15551234567@sms.taxpractice.local`; no extra sandbox process is needed. A
provider with an HTTP API would replace the SMS branch only. Implements `integrations.providers.Notifications`:
a failed send leaves as `ProviderUnavailable` (retried) or `ProviderRejected` (the server refused the address).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from integrations.mail import Mailer
from integrations.provider_errors import provider_errors
from integrations.providers import ProviderRejected

log = logging.getLogger("taxpractice.notify")

KIND = "notification"

SMS_MAX_CHARS = 320  # two segments


@dataclass(frozen=True)
class Recipient:
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Notification:
    subject: str
    text: str  # the mail body
    sms_text: str  # short form for SMS


class Notifier:
    def __init__(self, mailer: Mailer, sms_email_domain: str):
        self.mailer, self.sms_email_domain = mailer, sms_email_domain

    def sms_address(self, phone: str) -> str | None:
        digits = re.sub(r"\D", "", phone)
        if len(digits) == 10:  # a North American number without its country code
            digits = "1" + digits
        return f"{digits}@{self.sms_email_domain}" if 8 <= len(digits) <= 15 else None

    def plan(self, recipient: Recipient, notification: Notification,
             channels: tuple[str, ...] = ("email",)) -> list[tuple[str, str, str, str]]:
        """(channel, address, subject, text) of each mail that reaches the recipient on a requested channel. An
        address the mailer cannot deliver to (not ASCII: integrations/mail.py) counts as none."""
        mails = []
        if "email" in channels and recipient.email and recipient.email.isascii():
            mails.append(("email", recipient.email, notification.subject, notification.text))
        if "sms" in channels and recipient.phone:
            address = self.sms_address(recipient.phone)
            if address:
                mails.append(("sms", address, notification.subject, notification.sms_text[:SMS_MAX_CHARS]))
        return mails

    async def send(self, recipient: Recipient, notification: Notification,
                   channels: tuple[str, ...] = ("email",)) -> list[str]:
        """Send on each requested channel the recipient can be reached on; returns the channels used. An address
        the mailer cannot deliver to counts as none (integrations/mail.py logs it)."""
        used: list[str] = []
        for channel, address, subject, text in self.plan(recipient, notification, channels):
            if await self._send(address, subject, text):
                used.append(channel)
        return used

    async def _send(self, to: str, subject: str, text: str) -> bool:
        """One mail; False when the address cannot be mailed. A server that refuses the address (rejected)
        is such an address: the channel is not used, and the other channels still go out. A server out of
        reach raises ProviderUnavailable, so the caller retries."""
        try:
            with provider_errors(KIND):
                return await self.mailer.send(to, subject, text)
        except ProviderRejected as refused:
            log.warning("notification not sent: the mail server refused the address (%s)", refused.message[:200])
            return False
