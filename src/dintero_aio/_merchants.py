"""`partner.for_account("T…")`: a partner's merchant account, reached through exchange tokens.

A partner (an account with merchant sub-accounts) manages a merchant's clients and grants with a
token for that merchant's account, which it gets by exchanging its own token (Exchange token).
One partner instance may serve thousands of merchants, so a view is small: the partner's
connection pool, lifecycle and retry policy (one `Caller`, evolved to this account's token
flow), its own `Tokens` (at most one token), and the two operation groups.
"""

from __future__ import annotations

import attrs

from ._auth import TokenAuth, Tokens
from ._calls import Caller
from ._clients import Clients
from ._grants import Grants


class MerchantAccount:
    """The management-auth API of one merchant account of a partner: `clients`, `grants`.

    Made (and cached) by `Dintero.for_account`; it belongs to the partner instance: closing the
    partner ends the view's calls too. Its token is fetched on first use by exchanging the
    partner's token, cached, refreshed before expiry and after a 401 (once), exactly like the
    partner's own; a 401 on the exchange itself refreshes the partner's token instead.
    """

    __slots__ = ("_caller", "_tokens", "account_id", "clients", "grants", "partner_id")

    def __init__(self, partner: Caller, partner_id: str, account_id: str, tokens: Tokens) -> None:
        self.account_id = account_id
        self.partner_id = partner_id
        self._tokens = tokens
        self._caller = attrs.evolve(partner, auth=TokenAuth(tokens))
        self.clients = Clients(self._caller, account_id)
        self.grants = Grants(self._caller, account_id)

    @property
    def audience(self) -> str:
        """This account's audience at the partner's base URL: what a client of the merchant asks
        tokens for, so what its grants name (`GrantSpec(audience=merchant.audience, ...)`)."""
        return f"{self._caller.base_url}/accounts/{self.account_id}"

    async def verify_credentials(self) -> int:
        """Make sure a token for this account can be had (exchanging the partner's unless a fresh
        one is cached) and return its lifetime in seconds."""
        token = await self._caller.run("token check", lambda _: self._tokens.get(), retried=True)
        return token.lifetime

    def __repr__(self) -> str:
        return f"MerchantAccount(account_id={self.account_id!r}, partner_id={self.partner_id!r})"
