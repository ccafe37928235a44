"""A portal sync's lifecycle, declared as a `Lifecycle` (domain/lifecycle/) like every lifecycle entity: a sync
starts `running` and ends once, in one of three final statuses. Every transition is the system's; each writes one
`lifecycle_history` row (domain/portal/syncs.py). docs/portal/README.md embeds `SYNC_LIFECYCLE.markdown_table()`
and a test keeps the two identical.

Pure Python on purpose: the workflow sandbox may import it."""

from __future__ import annotations

from enum import StrEnum

from domain.lifecycle import Lifecycle, Transition
from domain.roles import Role


class SyncStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = SyncStatus
SYSTEM = frozenset({Role.SYSTEM})

SYNC_LIFECYCLE: Lifecycle[SyncStatus] = Lifecycle(
    entity_type="portal_sync", noun="a portal sync", statuses=SyncStatus, initial=S.RUNNING,
    final=frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED}), transitions=(
        Transition("succeed", (S.RUNNING,), S.SUCCEEDED, SYSTEM,
                   "PortalSyncWorkflow: every pull of every enabled surface and account finished"),
        Transition("fail", (S.RUNNING,), S.FAILED, SYSTEM,
                   "PortalSyncWorkflow: a pull failed or was stopped (drift, a refused sign-in, a revoked or "
                   "expired consent, the portal unavailable past the retries)"),
        Transition("cancel", (S.RUNNING,), S.CANCELLED, SYSTEM,
                   "PortalSyncWorkflow: staff paused or deleted the connection (the workflow was cancelled)"),
        Transition("abandon", (S.RUNNING,), S.FAILED, SYSTEM,
                   "a read found the sync's workflow closed without finishing it (terminated or timed out in "
                   "Temporal): the error names how it closed"),
    ))

# The action that ends a sync in each outcome the workflow reports.
FINISH_ACTIONS = {S.SUCCEEDED: "succeed", S.FAILED: "fail", S.CANCELLED: "cancel"}
