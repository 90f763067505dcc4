"""What a route depends on: who is asking (the bearer token's user, or the public), and the
service (and its admin operations) the app was made with. Async, so none costs a thread hop."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from xinyong.service import Principal, Service, Unauthorized, authenticate
from xinyong.service.admin import Admin
from xinyong.service.core import PUBLIC


async def principal(request: Request,
                    authorization: Annotated[str | None, Header()] = None) -> Principal:
    """Who is asking: the bearer token's user, or the public without one. Async: a known token
    is found in memory (see ``authenticate``), so no thread hop is paid for it."""
    if not authorization:
        return PUBLIC
    scheme, _, token = authorization.partition(" ")
    found = (authenticate(request.app.state.ledger, token.strip())
             if scheme.lower() == "bearer" else None)
    if found is None:
        raise Unauthorized("the token is not valid; send Authorization: Bearer <token>")
    return Principal(*found)


Who = Annotated[Principal, Depends(principal)]


async def service(request: Request) -> Service:
    """The service the app was made with (``create_app``)."""
    return request.app.state.service  # type: ignore[no-any-return]


async def admin(request: Request) -> Admin:
    """The admin operations (policy versions, impact) over that service."""
    return request.app.state.admin  # type: ignore[no-any-return]


Svc = Annotated[Service, Depends(service)]
Adm = Annotated[Admin, Depends(admin)]
