"""The tax return state machine: THE one table the API, TaxReturnWorkflow and docs/tax_return.md read,
declared as a `Lifecycle` (domain/lifecycle/__init__.py) like every lifecycle entity.

Spec §5.6 lists fifteen actions; the statuses it leaves without a way in or out (intake, documents_pending,
needs_review, revisions_needed) get the actions marked "added" below. `docs/tax_return.md` is generated
from `markdown_table()` and `status_table()` and a test keeps the two identical.

Pure Python on purpose: the workflow sandbox imports it, so it must not pull in SQLAlchemy or FastAPI.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from domain.lifecycle import Guard, Lifecycle, Transition
from domain.roles import Role


class Status(StrEnum):
    INTAKE = "intake"
    DOCUMENTS_PENDING = "documents_pending"
    READY_FOR_PREP = "ready_for_prep"
    AI_ANALYSIS = "ai_analysis"
    IN_PREP = "in_prep"
    PENDING_CLIENT_RESPONSE = "pending_client_response"
    READY_FOR_REVIEW = "ready_for_review"
    IN_REVIEW = "in_review"
    REVISIONS_NEEDED = "revisions_needed"
    APPROVED = "approved"
    PENDING_SIGNATURE = "pending_signature"
    READY_TO_FILE = "ready_to_file"
    FILED = "filed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    COMPLETE = "complete"
    NEEDS_REVIEW = "needs_review"


S = Status
PREPARER = frozenset({Role.PREPARER})
PREPARER_EA = frozenset({Role.PREPARER, Role.EA_CPA})
REVIEWER = frozenset({Role.REVIEWER})
REVIEWER_EA = frozenset({Role.REVIEWER, Role.EA_CPA})
SYSTEM = frozenset({Role.SYSTEM})
STAFF_WORKFLOW = frozenset({Role.PREPARER, Role.REVIEWER, Role.EA_CPA})


@dataclass(frozen=True)
class GuardFacts:
    """What guards look at besides the status: read by the API from Postgres in the transition request."""

    actor_id: uuid.UUID | None
    assigned_preparer_id: uuid.UUID | None
    # None: not counted, because the action's guard does not read it (a guard that reads None fails: closed).
    pending_questions: int | None


PENDING_QUESTIONS = "pending_questions"  # the fact the API counts (one query) only for guards that read it

HAS_PENDING_QUESTIONS = Guard(
    "has_pending_questions", "at least one pending client question exists (create questions first)",
    lambda f: f.pending_questions is not None and f.pending_questions > 0, reads=frozenset({PENDING_QUESTIONS}))
NO_PENDING_QUESTIONS = Guard(
    "no_pending_questions", "no client question is still pending (answer or skip them first)",
    lambda f: f.pending_questions == 0, reads=frozenset({PENDING_QUESTIONS}))
NOT_OWN_WORK = Guard(
    "not_own_work", "the approver is not the return's assigned preparer (segregation of duties)",
    lambda f: f.actor_id is None or f.actor_id != f.assigned_preparer_id)

SPEC, ADDED = "§5.6", "added"  # a transition of spec §5.6's table, or one decided here for the statuses it leaves open


def T(action: str, sources: tuple[Status, ...], target: Status, roles: frozenset[Role], description: str,
      guard: Guard | None = None, added: bool = False) -> Transition[Status]:
    return Transition(action, sources, target, roles, description, guard, ADDED if added else SPEC)


LIFECYCLE: Lifecycle[Status] = Lifecycle(
    entity_type="tax_return", noun="a return", statuses=Status, initial=Status.INTAKE,
    final=frozenset({Status.COMPLETE}), origin_column="Spec", transitions=(
        # Getting documents in (added: the spec table starts at ready_for_prep).
        T("documents_received", (S.INTAKE,), S.DOCUMENTS_PENDING, SYSTEM,
           "documents capability: the first document of the return arrived", added=True),
        T("request_documents", (S.INTAKE,), S.DOCUMENTS_PENDING, PREPARER_EA,
           "staff asked the client for documents before any arrived", added=True),
        T("documents_complete", (S.DOCUMENTS_PENDING,), S.READY_FOR_PREP, SYSTEM,
           "documents capability: the document checklist is complete", added=True),
        T("mark_ready_for_prep", (S.INTAKE, S.DOCUMENTS_PENDING), S.READY_FOR_PREP, PREPARER_EA,
           "staff confirm everything is in (paper documents, checklist waived)", added=True),
        # Spec §5.6.
        T("start_prep", (S.READY_FOR_PREP,), S.AI_ANALYSIS, PREPARER, "the preparer"),
        T("complete_ai_analysis", (S.AI_ANALYSIS,), S.IN_PREP, SYSTEM,
           "TaxReturnWorkflow: the analysis finished without an exception"),
        T("flag_exception", (S.AI_ANALYSIS,), S.NEEDS_REVIEW, SYSTEM,
           "TaxReturnWorkflow: the analysis found an exception (variance of 100 % or more)", added=True),
        T("request_client_info", (S.IN_PREP,), S.PENDING_CLIENT_RESPONSE, PREPARER, "the preparer",
           HAS_PENDING_QUESTIONS),
        T("client_responded", (S.PENDING_CLIENT_RESPONSE,), S.IN_PREP, SYSTEM,
           "questions: the client answered (or staff skipped) the last pending question"),
        T("submit_for_review", (S.IN_PREP,), S.READY_FOR_REVIEW, PREPARER, "the preparer",
           NO_PENDING_QUESTIONS),
        T("start_review", (S.READY_FOR_REVIEW,), S.IN_REVIEW, REVIEWER,
           "a reviewer (becomes the assigned reviewer)"),
        T("request_revisions", (S.IN_REVIEW,), S.REVISIONS_NEEDED, REVIEWER, "the reviewer"),
        T("start_revisions", (S.REVISIONS_NEEDED,), S.IN_PREP, PREPARER,
           "the preparer picks the revisions up", added=True),
        T("approve", (S.IN_REVIEW,), S.APPROVED, REVIEWER_EA, "the reviewer or an EA/CPA", NOT_OWN_WORK),
        T("send_for_signature", (S.APPROVED,), S.PENDING_SIGNATURE, SYSTEM,
           "signature capability: Form 8879 sent to the client"),
        T("signature_received", (S.PENDING_SIGNATURE,), S.READY_TO_FILE, SYSTEM,
           "signature capability: signed Form 8879 received"),
        T("transmit", (S.READY_TO_FILE,), S.FILED, SYSTEM, "e-file capability: return transmitted"),
        T("mark_accepted", (S.FILED,), S.ACCEPTED, SYSTEM, "e-file capability: acceptance acknowledgement"),
        T("mark_rejected", (S.FILED,), S.REJECTED, SYSTEM, "e-file capability: rejection acknowledgement"),
        T("restart_after_rejection", (S.REJECTED,), S.IN_PREP, PREPARER_EA, "the preparer or an EA/CPA"),
        T("retransmit", (S.REJECTED,), S.FILED, SYSTEM,
           "e-file capability: the rejected return retransmitted after a correction that needs no new review "
           "(client data, or figures within the IRS tolerance)", added=True),
        # Segregation of duties (added, issue 13): approved data is frozen; to change it, staff send the return back
        # to preparation, and it is submitted, reviewed and approved again.
        T("reopen", (S.APPROVED, S.PENDING_SIGNATURE, S.READY_TO_FILE), S.IN_PREP, STAFF_WORKFLOW,
           "staff send an approved return back to preparation to change its data; it is reviewed and approved again",
           added=True),
        T("complete", (S.ACCEPTED,), S.COMPLETE, SYSTEM,
           "closing capability (archive, final invoice); until it exists, the service identity"),
        # Stuck returns (added): the workflow escalates a return that stays stuck for a second time budget.
        T("escalate", (S.READY_FOR_PREP, S.IN_PREP, S.READY_FOR_REVIEW, S.IN_REVIEW, S.REVISIONS_NEEDED),
           S.NEEDS_REVIEW, SYSTEM, "TaxReturnWorkflow: stuck for twice its status's time budget", added=True),
        T("resolve_exception", (S.NEEDS_REVIEW,), S.IN_PREP, REVIEWER_EA,
           "a reviewer or EA/CPA looked at the exception and sends the return back to preparation",
           added=True),
    ))

TRANSITIONS = LIFECYCLE.transitions
BY_ACTION = LIFECYCLE.by_action
SYSTEM_ACTIONS = LIFECYCLE.system_actions
INITIAL = LIFECYCLE.initial
FINAL = LIFECYCLE.final
check_action = LIFECYCLE.check_action
check = LIFECYCLE.check
sources_of = LIFECYCLE.sources_of
markdown_table = LIFECYCLE.markdown_table

# From these statuses on, the return has been filed: no soft delete, no reminders of the filing deadline.
FILED_OR_LATER = frozenset({S.FILED, S.ACCEPTED, S.REJECTED, S.COMPLETE})
# From approval on, the return's data is what the reviewer approved (segregation of duties): its fields and its
# documents' extracted values are frozen (docs/tax_return.md, "Frozen from approval on"). `reopen` takes an approved
# return not yet filed back to in_prep, `restart_after_rejection` a rejected one; nothing is frozen there.
APPROVED_OR_LATER = frozenset({S.APPROVED, S.PENDING_SIGNATURE, S.READY_TO_FILE}) | FILED_OR_LATER


def reopen_hint(status: str) -> str:
    """How approved data is changed from `status` (the 422 return_approved says it)."""
    if status in sources_of("reopen"):
        return "Send it back to preparation first (transition `reopen`); it is then reviewed and approved again."
    if status == S.REJECTED:
        return "Restart it first (transition `restart_after_rejection`)."
    return "A filed return is not changed."


# Who the return waits on: the reviewer in these statuses, the preparer otherwise.
REVIEWER_STATUSES = frozenset({S.READY_FOR_REVIEW, S.IN_REVIEW, S.APPROVED, S.NEEDS_REVIEW})

PROGRESS: dict[Status, int] = {
    S.INTAKE: 0, S.DOCUMENTS_PENDING: 10, S.READY_FOR_PREP: 20, S.AI_ANALYSIS: 30, S.IN_PREP: 50,
    S.PENDING_CLIENT_RESPONSE: 50, S.NEEDS_REVIEW: 50, S.REVISIONS_NEEDED: 55, S.READY_FOR_REVIEW: 60,
    S.IN_REVIEW: 70, S.APPROVED: 80, S.PENDING_SIGNATURE: 85, S.READY_TO_FILE: 90, S.FILED: 95,
    S.REJECTED: 90, S.ACCEPTED: 98, S.COMPLETE: 100,
}

# How long a return may sit in a status before it is flagged stuck (None: never stuck).
TIME_BUDGET: dict[Status, timedelta | None] = {
    S.INTAKE: timedelta(days=14), S.DOCUMENTS_PENDING: timedelta(days=21), S.READY_FOR_PREP: timedelta(days=5),
    S.AI_ANALYSIS: timedelta(hours=1), S.IN_PREP: timedelta(days=10), S.PENDING_CLIENT_RESPONSE: timedelta(days=14),
    S.READY_FOR_REVIEW: timedelta(days=3), S.IN_REVIEW: timedelta(days=5), S.REVISIONS_NEEDED: timedelta(days=5),
    S.APPROVED: timedelta(days=2), S.PENDING_SIGNATURE: timedelta(days=10), S.READY_TO_FILE: timedelta(days=2),
    S.FILED: timedelta(days=3), S.ACCEPTED: timedelta(days=14), S.REJECTED: timedelta(days=3),
    S.NEEDS_REVIEW: timedelta(days=3), S.COMPLETE: None,
}

# Reminders to the assignee before the (possibly extended) deadline, while the return is not yet filed.
REMINDER_OFFSETS: tuple[timedelta, ...] = (timedelta(days=30), timedelta(days=7), timedelta(days=1))


def assignee_for(status: str, preparer_id, reviewer_id):
    return reviewer_id if status in REVIEWER_STATUSES and reviewer_id is not None else preparer_id


def status_table() -> str:
    lines = ["| Status | Progress % | Time budget before stuck | Waits on |", "|---|---|---|---|"]
    for status in Status:
        budget = TIME_BUDGET[status]
        shown = "—" if budget is None else (f"{budget.days} d" if budget.days else f"{budget.seconds // 3600} h")
        waits = "reviewer" if status in REVIEWER_STATUSES else ("—" if status in FINAL else "preparer")
        lines.append(f"| {status.value} | {PROGRESS[status]} | {shown} | {waits} |")
    return "\n".join(lines)
