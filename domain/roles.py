"""Who can act: the four staff roles of Appendix A, the client portal identity, and the internal system."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    EA_CPA = "ea_cpa"
    REVIEWER = "reviewer"
    PREPARER = "preparer"
    CLIENT = "client"
    # The internal service identity that sends System transitions (never a staff or client token).
    SYSTEM = "system"


STAFF_ROLES = frozenset({Role.ADMIN, Role.EA_CPA, Role.REVIEWER, Role.PREPARER})
# Staff who see every client of their firm; preparers see only the clients assigned to them.
ALL_CLIENTS_ROLES = frozenset({Role.ADMIN, Role.EA_CPA, Role.REVIEWER})
