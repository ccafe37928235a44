"""Lifecycles as data: an entity's state machine declared as one table, checked, recorded and documented the
same way for every entity.

A `Lifecycle` names its entity type (the `entity_type` of its history rows), its statuses (a StrEnum), its
initial and final statuses and its transitions. Each `Transition` is an action, the statuses it may leave,
the status it enters, the roles that may take it, an optional `Guard` and a description (who sends it). From
that table the lifecycle answers three questions the same way for every entity:

- `check(action, status, role, facts)`: the transition, or the DomainError that refuses it, in this order:
  unknown action 400 (`ValidationFailed`), a role that may never take it 403 (`Forbidden`, whatever the
  status), a wrong from-status 409 (`Conflict`), a failed guard 422 (`BusinessRuleViolation`, its code the
  guard's name);
- what history row a transition writes: one row of `lifecycle_history` (`domain/lifecycle/models.py`):
  (entity type, entity id, from, to, action, actor, at, note) plus firm, actor role and source, its id the
  transition id the entity's workflow generated so that a retried write records it once;
- `markdown_table()`: the table its capability doc embeds, which a test keeps identical to the code.

Declaring the next entity's machine is a few lines::

    class LetterStatus(StrEnum):
        DRAFT = "draft"
        SENT = "sent"
        SIGNED = "signed"
        VOID = "void"

    ENGAGEMENT_LETTER = Lifecycle(
        entity_type="engagement_letter", noun="an engagement letter", statuses=LetterStatus,
        initial=LetterStatus.DRAFT, final=frozenset({LetterStatus.SIGNED, LetterStatus.VOID}),
        transitions=(
            Transition("send", (LetterStatus.DRAFT,), LetterStatus.SENT, frozenset({Role.EA_CPA}), "an EA/CPA"),
            Transition("sign", (LetterStatus.SENT,), LetterStatus.SIGNED, frozenset({Role.SYSTEM}),
                       "e-signature capability: the client signed"),
            Transition("void", (LetterStatus.DRAFT, LetterStatus.SENT), LetterStatus.VOID,
                       frozenset({Role.ADMIN, Role.EA_CPA}), "an admin or EA/CPA"),
        ))

    ENGAGEMENT_LETTER.check("sign", "draft", Role.SYSTEM)  # raises Conflict
    ENGAGEMENT_LETTER.markdown_table()                      # for docs/engagement_letter.md

The tax return's machine (`domain/tax_return/state_machine.py`) is the first one declared this way.

Pure Python on purpose: workflow sandboxes import lifecycles, so this module must not pull in SQLAlchemy or
FastAPI (the history table is `domain/lifecycle/models.py`, its reads and writes `domain/lifecycle/history.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable, Generic, TypeVar

from domain.errors import BusinessRuleViolation, Conflict, FieldError, Forbidden, ValidationFailed
from domain.roles import Role

S = TypeVar("S", bound=StrEnum)

# The order roles are listed in generated docs: the people who do the work first, the system last.
ROLE_ORDER = (Role.PREPARER, Role.REVIEWER, Role.EA_CPA, Role.ADMIN, Role.CLIENT, Role.SYSTEM)


@dataclass(frozen=True)
class Guard:
    """A rule besides the from-status that a transition must satisfy. `holds` gets the facts object the
    entity's callers gather (any type the entity chooses); `reads` names the facts it looks at, so a caller can
    gather only those (a fact not gathered is None, and a guard reading None should fail: closed)."""

    name: str  # the 422 problem's code
    rule: str  # the sentence docs and 422 answers show
    holds: Callable[[Any], bool]
    reads: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Transition(Generic[S]):
    action: str
    sources: tuple[S, ...]
    target: S
    roles: frozenset[Role]
    description: str  # who sends it: a person, or for System actions the event inside the system
    guard: Guard | None = None
    # Where the transition comes from, shown in the doc's origin column when the lifecycle has one (the tax
    # return: "§5.6" for the spec's table, "added" for what was decided here).
    origin: str | None = None


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    entity_type: str  # the history rows' entity_type, the search attribute EntityType
    noun: str  # how refusals name one entity, with its article: "a return" → "Cannot approve a return in status …"
    statuses: type[S]
    initial: S
    final: frozenset[S]
    transitions: tuple[Transition[S], ...]
    origin_column: str | None = None  # the doc table's column for `Transition.origin`, if any
    by_action: dict[str, Transition[S]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_action: dict[str, Transition[S]] = {}
        for t in self.transitions:
            if t.action in by_action:
                raise ValueError(f"{self.entity_type}: action {t.action} declared twice")
            unknown = [s for s in (*t.sources, t.target) if not isinstance(s, self.statuses)]
            if unknown or not t.sources or not t.roles:
                raise ValueError(f"{self.entity_type}: transition {t.action} needs sources, roles and "
                                 f"statuses of {self.statuses.__name__}")
            by_action[t.action] = t
        object.__setattr__(self, "by_action", by_action)

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(self.by_action)

    @property
    def system_actions(self) -> frozenset[str]:
        return frozenset(t.action for t in self.transitions if Role.SYSTEM in t.roles)

    def sources_of(self, action: str) -> tuple[S, ...]:
        return self.by_action[action].sources

    def guard_reads(self, action: str, fact: str) -> bool:
        """Whether the guard of `action` (a known action) reads `fact`: callers gather costly facts only then."""
        guard = self.by_action[action].guard
        return guard is not None and fact in guard.reads

    def check_action(self, action: str, role: Role) -> Transition[S]:
        """The part of `check` that needs no status: the action exists (else 400) and the role may take it (403)."""
        transition = self.by_action.get(action)
        if transition is None:
            raise ValidationFailed("Unknown workflow action", [
                FieldError("action", "invalid_choice", f"action must be one of: {', '.join(sorted(self.actions))}")])
        if role not in transition.roles:
            allowed = ", ".join(sorted(r.value for r in transition.roles))
            raise Forbidden(f"The {role.value} role may not {action} (allowed: {allowed})")
        return transition

    def check(self, action: str, status: str, role: Role, facts: Any = None) -> Transition[S]:
        """The transition `action` from `status` by `role`, or the DomainError that refuses it.

        Order matters: an unknown action is a 400; a role that may never do it is a 403 whatever the status
        (the caller learns nothing about the entity); then a wrong status is a 409; a failed guard a 422.
        Without `facts` the guard is not checked (a caller that cannot gather them leaves it to the workflow).
        """
        transition = self.check_action(action, role)
        if status not in transition.sources:
            sources = ", ".join(s.value for s in transition.sources)
            raise Conflict(f"Cannot {action} {self.noun} in status {status} (allowed from: {sources})")
        if transition.guard is not None and facts is not None and not transition.guard.holds(facts):
            raise BusinessRuleViolation(f"Cannot {action}: {transition.guard.rule}", code=transition.guard.name)
        return transition

    def markdown_table(self) -> str:
        """The transitions as the Markdown table the entity's doc embeds (a test keeps the two identical)."""
        origin = self.origin_column is not None
        header = ["Action", "From", "To", "Roles", "Guard", "Sent by"] + ([self.origin_column] if origin else [])
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for t in self.transitions:
            cells = [f"`{t.action}`", ", ".join(s.value for s in t.sources), t.target.value,
                     ", ".join(r.value for r in ROLE_ORDER if r in t.roles), t.guard.rule if t.guard else "—",
                     t.description] + ([t.origin or "—"] if origin else [])
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)
