"""FastAPI dependencies: the request transaction, the authenticated caller, and the service context."""

from __future__ import annotations

from typing import Annotated, AsyncIterator

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.request_context import client_ip_var, correlation_id_var, request_id_var
from api.state import AppState
from domain.context import ServiceContext
from domain.errors import Conflict, Unauthorized
from domain.principal import Principal


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


async def _principal(request: Request, state: State, session: Session) -> Principal:
    return await state.authenticator.authenticate(session, bearer_token(request))


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


async def _context(principal: CurrentPrincipal, session: Session) -> ServiceContext:
    return ServiceContext(session=session, principal=principal, correlation_id=correlation_id_var.get(),
                          request_id=request_id_var.get(), ip_address=client_ip_var.get())


Ctx = Annotated[ServiceContext, Depends(_context)]
