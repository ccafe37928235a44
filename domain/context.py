"""What every service call needs: the open transaction, the caller, and the request facts the audit log keeps."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.models import AuditEntry
from domain.audit.read_log import COLUMNS, CommittedReadAudit
from domain.principal import Principal
from domain.roles import Role

# The subject id of the system actor: it is no user and no client, so the audit row records no actor id.
SYSTEM_SUBJECT = uuid.UUID(int=0)
# The firm of the system actor the API's service token stands for (api/deps.py) before it is bound to one:
# unbound, it sees nothing, and `policy` admits it to no action but a return's transition.
UNBOUND_FIRM = uuid.UUID(int=0)


@dataclass(frozen=True)
class RequestOrigin:
    """Where a request came from, as the audit log records it."""

    correlation_id: str | None = None
    request_id: str | None = None
    ip_address: str | None = None


def audit_entry(firm_id: uuid.UUID, actor_id: uuid.UUID | None, actor_role: str, action: str, resource_type: str,
                resource_id: object = None, client_id: uuid.UUID | None = None, details: dict | None = None,
                origin: RequestOrigin = RequestOrigin()) -> AuditEntry:
    return AuditEntry(
        firm_id=firm_id,
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        client_id=client_id,
        correlation_id=origin.correlation_id,
        request_id=origin.request_id,
        ip_address=origin.ip_address,
        details=details,
    )


@dataclass
class ServiceContext:
    session: AsyncSession
    principal: Principal
    correlation_id: str | None = None
    request_id: str | None = None
    ip_address: str | None = None
    # Who acts for the system actor: the webhook, workflow step or sync doing work on the firm's behalf
    # ("stripe_webhook", "document_processing" …); None for a request of a signed-in caller. Its audit rows
    # carry it as details.system_source (not "source": several actions already record a source of their own,
    # such as a pending document's "smartvault").
    source: str | None = None
    # The API's writer of read rows, committed before the answer leaves (domain/audit/read_log.py); None in a
    # worker or a CLI, whose read rows go in their own transaction.
    read_audit: CommittedReadAudit | None = None

    @classmethod
    def for_system(cls, session: AsyncSession, firm_id: uuid.UUID, source: str,
                   correlation_id: str | None = None) -> "ServiceContext":
        """The system actor: work the system does on one firm's behalf (a webhook, a workflow step, a portal
        sync) goes through the same domain services as a request, and writes the same history and audit rows,
        under this context. It is bound to one firm and names its source."""
        return cls(session, Principal(firm_id=firm_id, role=Role.SYSTEM, subject_id=SYSTEM_SUBJECT),
                   correlation_id=correlation_id, source=source)

    def bind_to_firm(self, firm_id: uuid.UUID) -> None:
        """The service token's system actor arrives bound to no firm; the record it acts on binds it to that
        record's firm, once. A principal with a firm keeps it: a system actor bound to another firm, like any
        caller of another firm, then does not see the record (404)."""
        if self.is_system and self.principal.firm_id == UNBOUND_FIRM:
            self.principal = dataclasses.replace(self.principal, firm_id=firm_id)

    @property
    def is_system(self) -> bool:
        return self.principal.role == Role.SYSTEM

    @property
    def origin(self) -> RequestOrigin:
        return RequestOrigin(self.correlation_id, self.request_id, self.ip_address)

    async def audit(self, action: str, resource_type: str, resource_id: object = None,
                    client_id: uuid.UUID | None = None, details: dict | None = None) -> None:
        """Append one audit row in the caller's transaction: it commits, or vanishes, with the change itself."""
        self.session.add(self._entry(action, resource_type, resource_id, client_id, details))

    async def audit_read(self, action: str, resource_type: str, resource_id: object = None,
                         client_id: uuid.UUID | None = None, details: dict | None = None) -> None:
        """The audit row of a read of PII. Through the API's committed read audit (domain/audit/read_log.py) it
        is committed when this returns, or this raises, so the data is never answered unaudited, and a firm's
        concurrent reads do not queue on its audit chain's lock; without it, in the caller's transaction."""
        if self.read_audit is None:
            await self.audit(action, resource_type, resource_id, client_id, details)
            return
        await self.read_audit.append(self._entry(action, resource_type, resource_id, client_id, details))

    def _entry(self, action: str, resource_type: str, resource_id: object, client_id: uuid.UUID | None,
               details: dict | None) -> AuditEntry:
        actor_id = None if self.is_system else self.principal.subject_id
        if self.source is not None:
            details = {**(details or {}), "system_source": self.source}
        return audit_entry(self.principal.firm_id, actor_id, self.principal.role.value, action, resource_type,
                           resource_id, client_id, details, self.origin)

    async def audit_each(self, action: str, resource_type: str,
                         rows: list[tuple[object, uuid.UUID | None, dict | None]]) -> None:
        """One audit row per (resource id, client id, details), as `audit` writes them, in one multi-row INSERT:
        for work that changes many records at once (a page of imported documents), where a unit-of-work flush
        of one ORM object per row costs more CPU than the change itself. Each record keeps its own row."""
        if not rows:
            return
        entries = [self._entry(action, resource_type, resource_id, client_id, details)
                   for resource_id, client_id, details in rows]
        await self.session.execute(insert(AuditEntry.__table__),
                                   [{column: getattr(entry, column) for column in COLUMNS} for entry in entries])
