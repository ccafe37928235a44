"""The system actor (domain/context.py): bound to one firm, it reads and writes through the same services as a
request; the API's service token, bound to no firm, is bound to the firm of the record it acts on, once."""

import uuid

import pytest

from domain.context import UNBOUND_FIRM, ServiceContext
from domain.errors import NotFound
from domain.principal import Principal
from domain.roles import Role
from domain.tax_return.service import load_visible_return
from tests.tax_return.conftest import create_return


async def test_the_system_actor_acts_in_its_own_firm_only(tp, office):
    created = await create_return(tp, office.headers["preparer"], office.client["id"], 2021)
    return_id = uuid.UUID(created["id"])
    async with tp.state.sessionmaker() as session:
        own = ServiceContext.for_system(session, office.firm_id, "test")
        tax_return, _ = await load_visible_return(own, return_id)
        assert tax_return.id == return_id and own.source == "test"
        # Bound to another firm, it is a stranger to this return: 404, and it is not rebound to the return's firm.
        other_firm = uuid.uuid4()
        other = ServiceContext.for_system(session, other_firm, "test")
        with pytest.raises(NotFound):
            await load_visible_return(other, return_id)
        assert other.principal.firm_id == other_firm
        # The service token's actor arrives unbound; the return binds it to its firm.
        token = ServiceContext(session, Principal(firm_id=UNBOUND_FIRM, role=Role.SYSTEM, subject_id=UNBOUND_FIRM))
        await load_visible_return(token, return_id)
        assert token.principal.firm_id == office.firm_id
