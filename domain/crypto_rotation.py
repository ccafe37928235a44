"""Re-sealing every stored ciphertext under the current field-encryption key (`taxpractice keys rotate`).

Rotating the key (docs/security.md): put the new key in SSN_ENCRYPTION_KEY and the old one in
SSN_ENCRYPTION_PREVIOUS_KEY on every API, worker and CLI process (new ciphertexts are sealed with the new key, both
open), run `taxpractice keys rotate`, then drop the previous key.

Each encrypted column is walked in primary-key order, a batch per transaction: the batch's rows not yet sealed
under the current key (their leading key id says so, `FieldCipher.current_prefix`, so the database does the
filtering) are locked, opened with the data they are bound to, sealed again under the current key, and written
back. So the command is
- idempotent: a row under the current key is not touched, and a second run changes nothing;
- resumable: each batch commits on its own, and a run stopped half way leaves rows either re-sealed or as they
  were, both readable; the next run takes up what is left;
- safe next to the API: a row is locked while it is re-sealed, so a concurrent change is neither lost nor
  overwritten (its own write is sealed under the current key anyway).

A value that no held key opens (tampered with, moved onto another row, or sealed under a key already dropped) is
left as it is and counted, so the operator sees it before dropping the previous key.

No audit row: the value is unchanged, only the ciphertext around it (a run's counts are the command's output).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from sqlalchemy import Column, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.auth import totp
from domain.client.models import Client
from domain.client.service import ssn_associated_data
from domain.crypto import FieldCipher
from domain.identity.models import VerificationCode
from domain.idempotency.models import IdempotencyRecord
from domain.idempotency.service import associated_data as idempotency_associated_data
from domain.outbox.models import OutboxEntry
from domain.outbound_webhook.models import WebhookEndpoint
from domain.outbox.sealing import associated_data as outbox_associated_data
from domain.portal.models import PortalConnection
from domain.user.models import User

BATCH_SIZE = 500


@dataclass(frozen=True)
class EncryptedColumn:
    """One column of ciphertexts: its table's key, what else a row's associated data is made of, and the associated
    data a ciphertext may be bound to (more than one where an older binding still opens, as a TOTP secret's)."""

    name: str
    ciphertext: Column
    key: tuple[Column, ...]
    context: tuple[Column, ...]
    associated_data: Callable[..., list[bytes]]


def _bound_to_row_id(table, column: str) -> EncryptedColumn:
    """A column sealed with its row's id as the associated data (portal credentials and session, outbound webhook
    secrets, identity codes)."""
    return EncryptedColumn(f"{table.name}.{column}", table.c[column], (table.c.id,), (),
                           lambda row_id: [row_id.bytes])


ENCRYPTED_COLUMNS = (
    EncryptedColumn("clients.ssn_encrypted", Client.__table__.c.ssn_encrypted, (Client.__table__.c.id,), (),
                    lambda client_id: [ssn_associated_data(client_id)]),
    EncryptedColumn("users.totp_secret_encrypted", User.__table__.c.totp_secret_encrypted, (User.__table__.c.id,),
                    (), lambda user_id: [totp.associated_data(user_id), totp.LEGACY_ASSOCIATED_DATA]),
    EncryptedColumn("idempotency_keys.response_body", IdempotencyRecord.__table__.c.response_body,
                    (IdempotencyRecord.__table__.c.principal, IdempotencyRecord.__table__.c.key),
                    (IdempotencyRecord.__table__.c.request_hash,),
                    lambda principal, key, fingerprint: [idempotency_associated_data(principal, key, fingerprint)]),
    EncryptedColumn("outbox.sealed_payload", OutboxEntry.__table__.c.sealed_payload, (OutboxEntry.__table__.c.id,),
                    (OutboxEntry.__table__.c.kind, OutboxEntry.__table__.c.entity_type,
                     OutboxEntry.__table__.c.entity_id),
                    lambda entry_id, *entity: [outbox_associated_data(entry_id, *entity)]),
    *(_bound_to_row_id(PortalConnection.__table__, column)
      for column in ("email_encrypted", "password_encrypted", "totp_secret_encrypted", "session_encrypted")),
    *(_bound_to_row_id(WebhookEndpoint.__table__, column)
      for column in ("secret_ciphertext", "previous_secret_ciphertext")),
    _bound_to_row_id(VerificationCode.__table__, "code_encrypted"),
)


@dataclass
class ColumnReport:
    resealed: int = 0
    unreadable: list[str] = field(default_factory=list)  # keys of rows no held key opens


def reseal(cipher: FieldCipher, blob: bytes, candidates: list[bytes]) -> bytes:
    """The ciphertext sealed again under the current key, bound to the same data it was bound to."""
    for associated in candidates:
        try:
            return cipher.reseal(blob, associated)
        except InvalidTag:
            continue
    raise InvalidTag()


async def _rotate_batch(session: AsyncSession, column: EncryptedColumn, cipher: FieldCipher, after: tuple | None,
                        batch_size: int, report: ColumnReport) -> tuple | None:
    """One batch past `after` (a key); returns the last key seen, None when the column is done."""
    key = tuple_(*column.key)
    prefix_length = len(cipher.current_prefix)
    query = (select(*column.key, *column.context, column.ciphertext)
             .where(column.ciphertext.is_not(None),
                    func.length(column.ciphertext) > 0,  # erased (a deleted portal connection's credentials)
                    func.substring(column.ciphertext, 1, prefix_length) != cipher.current_prefix)
             .order_by(*column.key).limit(batch_size).with_for_update(of=column.ciphertext.table))
    if after is not None:
        query = query.where(key > tuple_(*after))
    rows = (await session.execute(query)).all()
    for row in rows:
        row_key, context, blob = tuple(row[:len(column.key)]), tuple(row[len(column.key):-1]), row[-1]
        try:
            sealed = reseal(cipher, blob, column.associated_data(*row_key, *context))
        except (InvalidTag, ValueError):
            report.unreadable.append(":".join(str(part) for part in row_key))
            continue
        await session.execute(update(column.ciphertext.table).where(key == tuple_(*row_key))
                              .values({column.ciphertext.name: sealed}))
        report.resealed += 1
    return tuple(rows[-1][:len(column.key)]) if rows else None


async def rotate(sessionmaker: async_sessionmaker[AsyncSession], cipher: FieldCipher,
                 batch_size: int = BATCH_SIZE) -> dict[str, ColumnReport]:
    """Re-seal every stored ciphertext not yet under the current key; a report per column."""
    reports = {}
    for column in ENCRYPTED_COLUMNS:
        report = reports[column.name] = ColumnReport()
        after = None
        while True:
            async with sessionmaker.begin() as session:
                after = await _rotate_batch(session, column, cipher, after, batch_size, report)
            if after is None:
                break
    return reports
