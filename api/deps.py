"""FastAPI dependencies: the request transaction, the authenticated caller, and the service context."""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated, AsyncIterator

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.request_context import client_ip_var, correlation_id_var, request_id_var
from api.state import AppState
from domain.context import ServiceContext
from domain.errors import Conflict, Unauthorized
from domain.principal import Principal
from domain.roles import Role


def get_state(request: Request) -> AppState:
    return request.app.state.services


State = Annotated[AppState, Depends(get_state)]


async def _session(state: State) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent (scope="function" below), so a
    failed commit is the caller's error response, never a success followed by lost data."""
    async with state.sessionmaker() as session:
        try:
            async with session.begin():
                yield session
        except IntegrityError as exc:
            raise Conflict("The change conflicts with existing data") from exc


Session = Annotated[AsyncSession, Depends(_session, scope="function")]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Missing bearer token")
    return token.strip()


# The service identity belongs to no firm until an endpoint binds it to the firm of the record it acts on
# (see domain/tax_return/service.py): unbound, it sees nothing, and `policy` admits it to no other action.
UNBOUND_FIRM = uuid.UUID(int=0)


def system_principal() -> Principal:
    return Principal(firm_id=UNBOUND_FIRM, role=Role.SYSTEM, subject_id=UNBOUND_FIRM)


async def _principal(request: Request, state: State, session: Session) -> Principal:
    token = bearer_token(request)
    service_token = state.settings.service_token
    # Constant-time: the comparison must not tell an attacker how much of the token was right.
    if service_token and hmac.compare_digest(token.encode(), service_token.encode()):
        return system_principal()
    principal = await state.authenticator.authenticate(session, token)
    if principal.role == Role.SYSTEM:  # a signed token never carries the system role: refuse it if one does
        raise Unauthorized("Invalid token")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


async def _context(principal: CurrentPrincipal, session: Session) -> ServiceContext:
    return ServiceContext(session=session, principal=principal, correlation_id=correlation_id_var.get(),
                          request_id=request_id_var.get(), ip_address=client_ip_var.get())


Ctx = Annotated[ServiceContext, Depends(_context)]
