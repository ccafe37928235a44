"""Mail through the outbox: written in the transaction of the change that causes it (an invitation with the user
it invites, a sign-in link with its token, a message notice with its message), sent after the commit, and sent
by the relay if SMTP was unreachable then, so a crash never loses a mail. Each mail carries a Message-ID made
when it was written, so a repeat (sent, then its entry's delete lost) is recognisably the same mail."""

from __future__ import annotations

import uuid

from orchestration.message import Delivery, OutboxMessage

SEND = "mail.send"
ENTITY_TYPE = "mail"


def mail(to: str, subject: str, text: str, about: str,
         attachment: tuple[str, str, str] | None = None) -> OutboxMessage:
    """`about` names what the mail is about ("user:<id>", "message:<id>" …), for an operator reading the outbox;
    it never names the recipient, whose address stays in the payload only. `attachment`: one text file
    (filename, content type, text), such as a calendar invitation."""
    message_id = f"<{uuid.uuid4()}@taxpractice>"
    payload = {"to": to, "subject": subject, "text": text, "message_id": message_id}
    if attachment is not None:
        payload["attachment"] = list(attachment)
    return OutboxMessage(SEND, ENTITY_TYPE, about, payload)


async def _deliver(delivery: Delivery, entity_id: str, payload: dict) -> None:
    attached = payload.get("attachment")
    await delivery.mailer.send(payload["to"], payload["subject"], payload["text"],
                               message_id=payload.get("message_id"),
                               attachments=((attached[0], attached[1], attached[2].encode()),) if attached else ())


HANDLERS = {SEND: _deliver}
