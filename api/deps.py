"""FastAPI dependencies: the request transaction, the authenticated caller, and the service context."""

from __future__ import annotations

import hmac
from typing import Annotated, AsyncIterator

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.request_context import origin
from api.state import AppState
from domain.context import UNBOUND_FIRM, ServiceContext
from domain.errors import Conflict, Unauthorized
from domain.principal import Principal
from domain.roles import Role
from observability.context import firm_id_var


async def get_state(request: Request) -> AppState:
    # async although it awaits nothing: FastAPI runs a plain `def` dependency on a worker thread, a thread
    # hop on every request for a dictionary lookup.
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


def system_principal() -> Principal:
    return Principal(firm_id=UNBOUND_FIRM, role=Role.SYSTEM, subject_id=UNBOUND_FIRM)


async def _principal(request: Request, state: State, session: Session) -> Principal:
    token = bearer_token(request)
    service_token = state.settings.service_token
    # Constant-time: the comparison must not tell an attacker how much of the token was right. Outside
    # development the static token is no credential at all (settings.service_token).
    if state.settings.is_development and hmac.compare_digest(token.encode(), service_token.encode()):
        return system_principal()
    principal = await state.authenticator.authenticate(session, token)
    if principal.role == Role.SYSTEM:  # a signed token never carries the system role: refuse it if one does
        raise Unauthorized("Invalid token")
    firm_id_var.set(str(principal.firm_id))  # every log line from here on names the firm (observability/context.py)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def service_context(session: AsyncSession, principal: Principal, state: AppState) -> ServiceContext:
    """A ServiceContext carrying the current request's audit facts."""
    facts = origin()
    return ServiceContext(session=session, principal=principal, correlation_id=facts.correlation_id,
                          request_id=facts.request_id, ip_address=facts.ip_address, read_audit=state.read_audit)


async def _context(principal: CurrentPrincipal, session: Session, state: State) -> ServiceContext:
    return service_context(session, principal, state)


Ctx = Annotated[ServiceContext, Depends(_context)]
