"""The platform's HTTP API: the app over a ledger, its error handling and its scheduled tick;
the routes are in ``routes`` (one router per audience), their bodies in ``models``. Errors are
RFC 9457 problem details (application/problem+json) with field paths; no request gets a stack
trace or a bare 500."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from xinyong.api.models import ERRORS, PROBLEM
from xinyong.api.routes import ROUTERS
from xinyong.ledger.store import Ledger, LedgerError
from xinyong.policy.model import Policy
from xinyong.service import Forbidden, Invalid, NotFound, Service, Unauthorized
from xinyong.service.admin import Admin, active_version, build_or_explain

log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """RFC 9457: type, title, status, detail (and extensions such as ``errors``)."""
    return JSONResponse({"type": "about:blank", "title": title, "status": status,
                         "detail": detail, **extra}, status_code=status, media_type=PROBLEM)


def create_app(ledger: Ledger, policy: Policy, tick_every: float | None = None,
               files: dict[str, str] | None = None) -> FastAPI:
    """The API over the ledger. ``files`` are the policy's TOML texts (the base of versions
    loaded through /admin/policies); a version activated there earlier runs instead of
    ``policy``."""
    service = Service(ledger, policy, files)
    active = active_version(ledger)
    if active is not None:
        service.use(build_or_explain(active[1]), active[1], active[0])
    admin = Admin(service)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_ticking(service, tick_every)) if tick_every else None
        yield
        if task is not None:
            task.cancel()
        admin.jobs.shutdown()  # its unfinished jobs are marked interrupted

    app = FastAPI(title="xinyong", version="0.1.0", lifespan=lifespan, responses=ERRORS,
                  description="Credit records, lists and joint reward and punishment, "
                  "explainable down to the source record, with due process.")
    app.state.ledger, app.state.service, app.state.admin = ledger, service, admin

    @app.exception_handler(Unauthorized)
    async def _401(_r: Request, e: Unauthorized) -> JSONResponse:
        return problem(401, "Unauthorized", str(e))

    @app.exception_handler(Forbidden)
    async def _403(_r: Request, e: Forbidden) -> JSONResponse:
        return problem(403, "Forbidden", str(e))

    @app.exception_handler(NotFound)
    async def _404(_r: Request, e: NotFound) -> JSONResponse:
        return problem(404, "Not Found", str(e))

    @app.exception_handler(Invalid)
    async def _bad(_r: Request, e: Invalid) -> JSONResponse:
        return problem(422, "Invalid request", str(e), errors=e.errors)

    @app.exception_handler(LedgerError)
    async def _422(_r: Request, e: LedgerError) -> JSONResponse:
        return problem(422, "Unprocessable", str(e))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, e: RequestValidationError) -> JSONResponse:
        errors = [{"pointer": "/" + "/".join(str(p) for p in err["loc"]),
                   "detail": err["msg"]} for err in e.errors()]
        return problem(422, "Invalid request", f"{len(errors)} field(s) are invalid",
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(r: Request, e: StarletteHTTPException) -> JSONResponse:
        response = problem(e.status_code, str(e.detail), str(e.detail))
        response.headers.update(e.headers or {})
        if e.status_code == 405:  # every method of the path, not only the first route's
            allowed = {m for route in iter_route_contexts(r.app.routes)
                       if isinstance(route.original_route, APIRoute)
                       and route.matches(r.scope)[0] is not Match.NONE
                       for m in route.methods or ()}
            response.headers["Allow"] = ", ".join(sorted(allowed))
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_r: Request, e: Exception) -> JSONResponse:
        # never a stack trace; the operator finds the cause in the server log
        return problem(500, "Internal error", "the request could not be completed; nothing "
                       "was changed. Report the time of the request to the operator")

    for router in ROUTERS:
        app.include_router(router)

    return app


async def _ticking(service: Service, every: float) -> None:
    """Run the time-driven process on a schedule, under the running policy version; a failed
    tick is logged with its cause and retried next time: the service keeps running."""
    from xinyong.process.workflow import tick

    loop = asyncio.get_running_loop()
    while True:
        try:
            await loop.run_in_executor(None, tick, service.ledger, service.policy)
        except Exception:
            log.exception("the scheduled tick failed; it runs again in %s s", every)
        await asyncio.sleep(every)
