"""Outbox payloads are sealed at rest (orchestration/outbox.py): a sign-in link waiting for SMTP is not in the
table in clear, the relay still sends it, and a sealed payload opens on its own entry only."""

from __future__ import annotations

import uuid

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import text

from domain.crypto import new_secret_token
from integrations.mail import Mailer
from orchestration import mail, outbox
from orchestration.outbox import Outbox

from tests.support import deliver, free_port, outbox_entries


async def _waiting_for_smtp(tp, message) -> uuid.UUID:
    """Committed with its change; the send after the commit found SMTP down, so the entry waits for the relay."""
    dead_smtp = Mailer("127.0.0.1", free_port(), tp.settings.mail_from, timeout_s=2)
    async with tp.state.sessionmaker() as session:
        pending = await tp.state.outbox.add(session, message)
        await session.commit()
    await Outbox(tp.state.temporal, tp.state.sessionmaker, dead_smtp, tp.state.cipher).send(pending)
    return pending.entry_id


async def test_a_waiting_sign_in_mail_holds_neither_its_link_nor_its_address_in_clear(tp):
    token, address = new_secret_token(), f"sealed-{uuid.uuid4().hex[:8]}@client.example.com"
    message = mail.mail(address, "Your sign-in link", f"https://portal.example.com/login?token={token}\n",
                        about="magic_link")
    entry_id = await _waiting_for_smtp(tp, message)

    async with tp.state.sessionmaker() as session:  # the row as a database dump shows it
        row = (await session.execute(text("SELECT row_to_json(o)::text FROM outbox o WHERE id = :id"),
                                     {"id": entry_id})).scalar_one()
    for secret in (token, address, "sign-in", "portal.example.com"):
        assert secret not in row
    assert await deliver(tp, entry_id)  # the relay opens it at send time
    [received] = await tp.mail_to(address)
    assert token in str(received)


async def test_a_sealed_payload_opens_on_its_own_entry_only(tp):
    first = await _waiting_for_smtp(tp, mail.mail("a@client.example.com", "One", "one", about="seal-a"))
    second = await _waiting_for_smtp(tp, mail.mail("b@client.example.com", "Two", "two", about="seal-b"))
    async with tp.state.sessionmaker.begin() as session:  # someone with write access moves a payload over
        await session.execute(text("UPDATE outbox SET sealed_payload = (SELECT sealed_payload FROM outbox "
                                   "WHERE id = :first) WHERE id = :second"), {"first": first, "second": second})
    [moved] = await outbox_entries(tp, "seal-b")
    with pytest.raises(InvalidTag):
        outbox.open_entry(tp.state.cipher, moved)
    assert await deliver(tp, first)
    assert not await deliver(tp, second)  # counted as a failed delivery, never sent to the wrong address
    [moved] = await outbox_entries(tp, "seal-b")
    assert moved.attempts == 1 and moved.last_error.startswith("InvalidTag")
    async with tp.state.sessionmaker.begin() as session:
        await session.execute(text("DELETE FROM outbox WHERE id = :id"), {"id": second})
