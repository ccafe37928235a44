"""`taxpractice demo seed`: returns in every status (a few stuck), documents, questions, invoices paid, due today
and overdue (by the invoice workflow), schedules, engagement letters and consents drafted, sent and signed —
through the API, the workflows and the signing page; a second run duplicates nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from cli.demo_seed import DEMO_FIRM_ID, PATHS, STUCK, DemoSeeder
from domain.client.models import Client
from domain.consent.models import Consent
from domain.engagement.models import Engagement
from domain.firm.models import Firm
from domain.identity.models import IdentityVerification
from domain.invoice.models import Invoice, InvoiceHistory
from domain.tax_return.models import TaxReturn
from domain.user.models import User
from tests.operations.demo_providers import demo_providers
from tests.operations.test_cli_commands import taxpractice
from tests.tax_return.conftest import poll


async def _counts(tp) -> dict:
    async with tp.state.sessionmaker() as session:
        async def count(model, *where):
            return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar()
        return {"firms": await count(Firm, Firm.id == DEMO_FIRM_ID),
                "staff": await count(User, User.firm_id == DEMO_FIRM_ID),
                "clients": await count(Client, Client.firm_id == DEMO_FIRM_ID),
                "returns": await count(TaxReturn, TaxReturn.firm_id == DEMO_FIRM_ID),
                "invoices": await count(Invoice, Invoice.firm_id == DEMO_FIRM_ID),
                "engagements": await count(Engagement, Engagement.firm_id == DEMO_FIRM_ID),
                "consents": await count(Consent, Consent.firm_id == DEMO_FIRM_ID),
                "identity_verifications": await count(IdentityVerification,
                                                      IdentityVerification.firm_id == DEMO_FIRM_ID)}


async def test_demo_seed_builds_a_living_practice_and_a_second_run_adds_nothing(tp, api_url):
    async with demo_providers(tp):
        seeder = lambda settings=tp.settings: DemoSeeder(tp.http, tp.state.sessionmaker, tp.state.authenticator,
                                                         tp.state.cipher, tp.temporal, settings)
        report = await seeder().seed()
        expected = {status for status, _ in PATHS}
        assert expected <= set(report.returns_by_status), report.returns_by_status
        assert report.created["stuck_returns"] == len(STUCK)
        assert report.created["invoices_paid"] >= 1 and report.created["invoices_due_today"] >= 1
        assert report.created["invoices_overdue"] == 2
        assert report.created["engagements_draft"] == 2 and report.created["engagements_sent"] == 2
        assert report.created["engagements_signed"] == 1
        assert report.created["consents_pending"] == 1 and report.created["consents_sent"] == 1
        assert report.created["consents_signed"] == 1 and report.created["identity_verifications"] == 1
        assert report.skipped == []
        assert report.created["documents"] >= 1 and report.created["questions"] >= 1
        assert report.created["estimated_payment_schedules"] >= 1
        assert {s["role"] for s in report.staff} == {"admin", "ea_cpa", "reviewer", "preparer"}

        async def stuck_flagged():
            async with tp.state.sessionmaker() as session:
                return (await session.execute(select(func.count()).select_from(TaxReturn).where(
                    TaxReturn.firm_id == DEMO_FIRM_ID, TaxReturn.stuck_since.is_not(None)))).scalar() == len(STUCK)
        await poll(stuck_flagged)

        # Overdue by the invoice workflow's own steps (history rows it wrote), the older one reminded twice.
        async with tp.state.sessionmaker() as session:
            steps = (await session.execute(select(InvoiceHistory.event).join(Invoice).where(
                Invoice.firm_id == DEMO_FIRM_ID, Invoice.status == "overdue"))).scalars().all()
        assert steps.count("overdue") == 2 and steps.count("reminder_7") == 1 and steps.count("reminder_14") == 1

        before = await _counts(tp)
        # Again, without an e-signature provider: the signing steps are skipped and said so, nothing else fails.
        again = await seeder(tp.settings.model_copy(update={"google_api_url": None})).seed()
        assert again.created == {} and await _counts(tp) == before
        assert again.skipped == ["sending engagement letters and consents for signature: GOOGLE_API_URL unset"]

        # The README's way to act as a demo person: a token through the API's real sign-in.
        code, out, err = await taxpractice(tp, "demo", "login", "reviewer", api_url=api_url)
        assert code == 0, err
        me = await tp.http.get("/v1/returns", headers={"Authorization": f"Bearer {out.strip()}"})
        assert me.status_code == 200 and me.json()["data"]
