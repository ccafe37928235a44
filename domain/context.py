"""What every service call needs: the open transaction, the caller, and the request facts the audit log keeps."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.models import AuditEntry
from domain.principal import Principal


@dataclass
class ServiceContext:
    session: AsyncSession
    principal: Principal
    correlation_id: str | None = None
    request_id: str | None = None
    ip_address: str | None = None

    async def audit(self, action: str, resource_type: str, resource_id: object = None,
                    client_id: uuid.UUID | None = None, details: dict | None = None) -> None:
        """Append one audit row in the caller's transaction: it commits, or vanishes, with the change itself."""
        self.session.add(AuditEntry(
            firm_id=self.principal.firm_id,
            actor_id=self.principal.subject_id,
            actor_role=self.principal.role.value,
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id) if resource_id is not None else None,
            client_id=client_id,
            correlation_id=self.correlation_id,
            request_id=self.request_id,
            ip_address=self.ip_address,
            details=details,
        ))
