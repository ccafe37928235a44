"""Outbound mail over SMTP. In development SMTP_HOST/PORT point at the local mail capture (sandboxes/)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage


class Mailer:
    def __init__(self, host: str, port: int, sender: str, timeout_s: float = 10.0):
        self.host, self.port, self.sender, self.timeout_s = host, port, sender, timeout_s

    def send_sync(self, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(text)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            smtp.send_message(message)

    async def send(self, to: str, subject: str, text: str) -> None:
        await asyncio.to_thread(self.send_sync, to, subject, text)
