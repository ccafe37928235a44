"""Providers (docs/providers.md) and the system actor, on the document side: the SurePrep and SmartVault clients
map every failure onto ProviderUnavailable / ProviderRejected over real HTTP, and processing writes its rows
through the document services as the system actor, which no signed-in caller can act as."""

import io
import uuid

import pytest
from sqlalchemy import select

from devstack.ports import free_port
from domain.audit.models import AuditEntry
from domain.context import ServiceContext
from domain.document import processing
from domain.document.models import DocumentStatusHistory
from domain.errors import Forbidden
from domain.principal import Principal
from domain.roles import Role
from integrations.providers import ProviderRejected, ProviderUnavailable
from integrations.smartvault import SmartVaultClient
from integrations.sureprep import SurePrepClient
from tests.document.conftest import upload, workflow_result
from tests.document.forms import form_pdf


async def test_document_providers_split_outages_from_refusals(tp, sandboxes):
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ProviderUnavailable) as unreachable:
        await SurePrepClient(nobody, tp.settings.sureprep_api_key).create_binder("c", 2024, "k-unreachable")
    assert unreachable.value.kind == "document_processing"
    with pytest.raises(ProviderRejected) as refused:
        await SurePrepClient(sandboxes.sureprep, "not-the-key").create_binder("c", 2024, f"k-{uuid.uuid4()}")
    assert refused.value.kind == "document_processing" and "401" in refused.value.message
    with pytest.raises(ProviderRejected) as missing:
        await SmartVaultClient(sandboxes.smartvault, tp.settings.smartvault_api_key).download(
            f"no-such-{uuid.uuid4().hex}", io.BytesIO(), 1024)
    assert missing.value.kind == "document_vault"
    with pytest.raises(ProviderUnavailable):
        await SmartVaultClient(nobody, tp.settings.smartvault_api_key).download("d", io.BytesIO(), 1024)


async def test_processing_writes_as_the_system_actor(tp, office):
    response = await upload(tp, office.admin, form_pdf("W-2", "Acme Corporation", {"wages": "1,000.00"}),
                            client_id=office.client["id"], tax_year=2024)
    assert response.status_code == 201, response.text
    document_id = uuid.UUID(response.json()["data"]["id"])
    await workflow_result(tp, str(document_id))
    async with tp.state.sessionmaker() as session:
        steps = (await session.execute(select(DocumentStatusHistory.to_status).where(
            DocumentStatusHistory.document_id == document_id).order_by(DocumentStatusHistory.occurred_at))).scalars()
        assert list(steps)[:3] == ["uploaded", "classifying", "extracting"]
        # A signed-in caller cannot act as the workflow's step: the service refuses before reading anything.
        staff = ServiceContext(session, Principal(firm_id=office.firm_id, role=Role.ADMIN, subject_id=uuid.uuid4()))
        with pytest.raises(Forbidden):
            await processing.enter_step(staff, document_id, "classifying")
    async with tp.state.sessionmaker.begin() as session:
        # The system actor of another firm does not find the document.
        stranger = ServiceContext.for_system(session, uuid.uuid4(), "test")
        assert await processing.enter_step(stranger, document_id, "classifying") is None


async def test_the_system_actor_audits_without_an_actor_id_and_names_its_source(tp, office):
    async with tp.state.sessionmaker.begin() as session:
        ctx = ServiceContext.for_system(session, office.firm_id, "document_processing")
        await ctx.audit("document.test_step", "document", "d-1", details={"source": "kept"})
    async with tp.state.sessionmaker() as session:
        row = (await session.execute(select(AuditEntry).where(
            AuditEntry.firm_id == office.firm_id, AuditEntry.action == "document.test_step"))).scalar_one()
    assert (row.actor_id, row.actor_role) == (None, "system")
    assert row.details == {"source": "kept", "system_source": "document_processing"}
