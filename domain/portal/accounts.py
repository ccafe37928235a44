"""Which client of the firm each linked portal account is (docs/portal/mapping.md).

The rule, in order, for an account of a connection's login:
1. an account mapped before keeps its client (the key is connection + portal account id);
2. the connection's own client takes the account whose name is its name (compared without case, punctuation or
   a corporate suffix), else the portal's first listed account (the login's own) — once per connection;
3. any other account is the firm's one client of the same name and type, when exactly one exists;
4. else a new client of that name and type (the system actor creates it, audited).
So two linked accounts never share a client through this rule, and a re-sync never remaps one.
"""

from __future__ import annotations

from sqlalchemy import select

from domain.client.models import Client
from domain.client.service import create_client
from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.disclosure.gate import recipient_key
from domain.portal.models import PortalAccount, PortalConnection
from integrations import portal_models as pm


async def map_accounts(ctx: ServiceContext, connection: PortalConnection, accounts: list[pm.Account],
                       cipher: FieldCipher) -> list[PortalAccount]:
    rows = {row.portal_account_id: row for row in (await ctx.session.execute(
        select(PortalAccount).where(PortalAccount.connection_id == connection.id))).scalars()}
    own = await ctx.session.get(Client, connection.client_id)
    taken = {row.client_id for row in rows.values()}
    unmapped = [a for a in accounts if a.id not in rows]
    if connection.client_id not in taken and unmapped:
        named = [a for a in unmapped if recipient_key(a.name) == recipient_key(own.name)]
        first = named[0] if named else (unmapped[0] if unmapped[0] is accounts[0] else None)
        if first is not None:
            rows[first.id] = _row(connection, first, own.id, "name_match" if named else "connection_client")
            ctx.session.add(rows[first.id])
            taken.add(own.id)
    for account in accounts:
        row = rows.get(account.id)
        if row is None:
            client, how = await _client_for(ctx, account, taken, cipher)
            row = rows[account.id] = _row(connection, account, client.id, how)
            ctx.session.add(row)
            taken.add(client.id)
            await ctx.audit("portal_account.map", "portal_connection", connection.id, client_id=client.id,
                            details={"portal_account_id": account.id, "matched_by": how})
        row.name, row.account_type, row.region = account.name, account.type, account.region
    await ctx.session.flush()
    return [rows[a.id] for a in accounts]


def _row(connection: PortalConnection, account: pm.Account, client_id, how: str) -> PortalAccount:
    return PortalAccount(firm_id=connection.firm_id, connection_id=connection.id, portal_account_id=account.id,
                         name=account.name, account_type=account.type, region=account.region, client_id=client_id,
                         matched_by=how)


async def _client_for(ctx: ServiceContext, account: pm.Account, taken: set, cipher: FieldCipher):
    candidates = [c for c in (await ctx.session.execute(select(Client).where(
        Client.firm_id == ctx.principal.firm_id, Client.client_type == account.type,
        Client.deleted_at.is_(None)))).scalars()
        if recipient_key(c.name) == recipient_key(account.name) and c.id not in taken]
    if len(candidates) == 1:
        return candidates[0], "name_match"
    return await create_client(ctx, {"client_type": account.type, "name": account.name}, cipher), "created"
