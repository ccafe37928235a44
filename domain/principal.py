"""Who is calling: the identity every service and policy check receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from domain.roles import ALL_CLIENTS_ROLES, STAFF_ROLES, Role


@dataclass(frozen=True)
class Principal:
    firm_id: uuid.UUID
    role: Role
    # A staff user's id; for a portal client, the client record the magic link was sent for.
    subject_id: uuid.UUID
    session_id: uuid.UUID | None = None
    email: str | None = None
    client_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def sees_all_clients(self) -> bool:
        return self.role in ALL_CLIENTS_ROLES or self.role == Role.SYSTEM

    @property
    def user_id(self) -> uuid.UUID | None:
        """The staff user, or None for a portal client or the system identity."""
        return self.subject_id if self.is_staff else None
