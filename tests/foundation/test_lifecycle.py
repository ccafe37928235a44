"""domain.lifecycle: the next entities declare their machines as the tax return does, and are refused, documented
and recorded the same way. The example is the module docstring's engagement letter."""

from __future__ import annotations

from enum import StrEnum

import pytest

from domain.errors import BusinessRuleViolation, Conflict, Forbidden, ValidationFailed
from domain.lifecycle import Guard, Lifecycle, Transition
from domain.roles import Role


class LetterStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    SIGNED = "signed"
    VOID = "void"


L = LetterStatus
HAS_SIGNER = Guard("no_signer", "the letter names a signer", lambda facts: facts.get("signer") is not None,
                   reads=frozenset({"signer"}))
ENGAGEMENT_LETTER = Lifecycle(
    entity_type="engagement_letter", noun="an engagement letter", statuses=LetterStatus, initial=L.DRAFT,
    final=frozenset({L.SIGNED, L.VOID}), transitions=(
        Transition("send", (L.DRAFT,), L.SENT, frozenset({Role.EA_CPA}), "an EA/CPA", HAS_SIGNER),
        Transition("sign", (L.SENT,), L.SIGNED, frozenset({Role.SYSTEM}), "e-signature capability: the client signed"),
        Transition("void", (L.DRAFT, L.SENT), L.VOID, frozenset({Role.ADMIN, Role.EA_CPA}), "an admin or EA/CPA"),
    ))


def test_refusals_in_the_order_every_lifecycle_shares():
    with pytest.raises(ValidationFailed) as unknown:
        ENGAGEMENT_LETTER.check("file", "draft", Role.EA_CPA)
    assert unknown.value.errors[0].field == "action" and "send, sign, void" in unknown.value.errors[0].message
    with pytest.raises(Forbidden):  # the role first, whatever the status
        ENGAGEMENT_LETTER.check("sign", "draft", Role.EA_CPA)
    with pytest.raises(Conflict) as wrong_status:
        ENGAGEMENT_LETTER.check("sign", "draft", Role.SYSTEM)
    assert wrong_status.value.detail == "Cannot sign an engagement letter in status draft (allowed from: sent)"
    with pytest.raises(BusinessRuleViolation) as guard:
        ENGAGEMENT_LETTER.check("send", "draft", Role.EA_CPA, {"signer": None})
    assert guard.value.code == "no_signer"
    assert ENGAGEMENT_LETTER.check("send", "draft", Role.EA_CPA, {"signer": "a"}).target == L.SENT
    # Without facts the guard is left to whoever gathers them (the workflow).
    assert ENGAGEMENT_LETTER.check("send", "draft", Role.EA_CPA).target == L.SENT
    assert ENGAGEMENT_LETTER.guard_reads("send", "signer") and not ENGAGEMENT_LETTER.guard_reads("void", "signer")
    assert ENGAGEMENT_LETTER.system_actions == {"sign"} and ENGAGEMENT_LETTER.sources_of("void") == (L.DRAFT, L.SENT)


def test_the_doc_table_is_generated_from_the_declaration():
    assert ENGAGEMENT_LETTER.markdown_table() == "\n".join([
        "| Action | From | To | Roles | Guard | Sent by |",
        "|---|---|---|---|---|---|",
        "| `send` | draft | sent | ea_cpa | the letter names a signer | an EA/CPA |",
        "| `sign` | sent | signed | system | — | e-signature capability: the client signed |",
        "| `void` | draft, sent | void | ea_cpa, admin | — | an admin or EA/CPA |",
    ])


def test_a_declaration_that_contradicts_itself_is_refused_at_import():
    class Other(StrEnum):
        A = "a"

    with pytest.raises(ValueError, match="declared twice"):
        Lifecycle("x", "x", LetterStatus, L.DRAFT, frozenset(), (
            Transition("send", (L.DRAFT,), L.SENT, frozenset({Role.ADMIN}), "a"),
            Transition("send", (L.SENT,), L.VOID, frozenset({Role.ADMIN}), "a")))
    with pytest.raises(ValueError, match="statuses of LetterStatus"):
        Lifecycle("x", "x", LetterStatus, L.DRAFT, frozenset(), (
            Transition("send", (Other.A,), L.SENT, frozenset({Role.ADMIN}), "a"),))
