"""The platform's HTTP API. Errors are RFC 9457 problem details (application/problem+json)
with field paths; no request gets a stack trace or a bare 500."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from xinyong.ledger.store import Ledger, LedgerError
from xinyong.policy.model import Policy
from xinyong.service import (
    Forbidden,
    Invalid,
    NotFound,
    Principal,
    Service,
    Unauthorized,
    authenticate,
)
from xinyong.service.admin import Admin, active_version, build_or_explain
from xinyong.service.core import PUBLIC

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """RFC 9457: type, title, status, detail (and extensions such as ``errors``)."""
    return JSONResponse({"type": "about:blank", "title": title, "status": status,
                         "detail": detail, **extra}, status_code=status, media_type=PROBLEM)


def _full_date(v: Any) -> Any:
    """RFC 3339 full-date only (YYYY-MM-DD): no timestamps, week dates or basic format."""
    if isinstance(v, date):
        return v
    if not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        raise ValueError("write the date as YYYY-MM-DD")
    return date.fromisoformat(v)


Day = Annotated[date, BeforeValidator(_full_date)]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(
        default=None, description="Invalid fields: JSON pointer and what is wrong")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": why, "content": {PROBLEM: {"schema": Problem.model_json_schema()}}}
    for code, why in ((400, "The body is not valid JSON"),
                      (401, "No valid token where one is needed"),
                      (403, "The role may not do this, or not to this subject"),
                      (404, "No such subject, action, case or path"),
                      (405, "Method not allowed"),
                      (422, "Invalid input, with a pointer to each field"),
                      (500, "Unexpected fault; nothing was changed"))}


class DecisionAsk(BaseModel):
    subject: str = Field(min_length=1, max_length=80, description="Subject id or identifier")
    action: str = Field(min_length=1, max_length=120, examples=["transport.air.ticket"])
    on: Day | None = Field(default=None, description="Date (default: today)")


class RecordIn(BaseModel):
    """One record in our field names; the agency's feed manifest says which it may send."""

    model_config = {"extra": "forbid"}
    record_id: str | None = Field(default=None, max_length=80)
    identifier: str | None = Field(default=None, max_length=40)
    id_scheme: str | None = Field(default=None, max_length=20)
    subject_name: str | None = Field(default=None, max_length=200)
    subject_region: str | None = Field(default=None, max_length=6)
    category: str = Field(max_length=120)
    act_date: Day | None = None
    effective: Day
    document_no: str = Field(max_length=200)
    legal_basis: str | None = Field(default=None, max_length=120)
    amounts: dict[str, str] = Field(default_factory=dict)
    channel: str | None = Field(
        default=None, max_length=20, examples=["inspection"], description="The channel the "
        "record came through, one the feed declares (default: the feed's only channel)")


FeedQ = Annotated[str | None, Query(max_length=120, description="The agency's feed manifest "
                                   "(needed when the agency has several)")]


class RecordBatch(BaseModel):
    records: list[RecordIn] = Field(min_length=1, max_length=100_000)


class ObjectionIn(BaseModel):
    target: str = Field(pattern=r"^(record|list|grade):.+$", max_length=200,
                        examples=["record:R123"])
    reason: str = Field(min_length=1, max_length=4000)
    rules: str = Field(default="credit-reporting", description="credit-reporting (20 days) "
                       "or fcra (30 days)")


class RepairIn(BaseModel):
    target: str = Field(pattern=r"^(record|list):.+$", max_length=200)
    reason: str = Field(default="", max_length=4000)


class ResolveIn(BaseModel):
    outcome: str = Field(max_length=20, examples=["upheld"])
    reasons: str = Field(default="", max_length=4000)


class PolicyVersionIn(BaseModel):
    """A new policy version: TOML files by path (as ``xinyong lint`` names them, e.g.
    ``policies/court-debtors/lists.toml``), laid over the running version's files."""

    model_config = {"extra": "forbid", "strict": True}
    files: dict[str, str] = Field(default_factory=dict, max_length=2000,
                                  description="path → TOML text; replaces or adds the file")
    remove: list[str] = Field(default_factory=list, max_length=2000,
                              description="paths of running files to leave out")
    replace_all: bool = Field(default=False, description="the files are the whole version "
                              "(nothing taken from the running one)")


class DecisionBatch(BaseModel):
    items: list[DecisionAsk] = Field(min_length=1, max_length=10_000)


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

    app = FastAPI(title="xinyong", version="0.1.0", lifespan=lifespan, responses=ERRORS,
                  description="Credit records, lists and joint reward and punishment, "
                  "explainable down to the source record, with due process.")
    app.state.ledger = ledger

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
            allowed = {m for route in app.routes if isinstance(route, APIRoute)
                       and route.matches(r.scope)[0] is not Match.NONE
                       for m in route.methods or ()}
            response.headers["Allow"] = ", ".join(sorted(allowed))
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_r: Request, e: Exception) -> JSONResponse:
        # never a stack trace; the operator finds the cause in the server log
        return problem(500, "Internal error", "the request could not be completed; nothing "
                       "was changed. Report the time of the request to the operator")

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/public/search", tags=["public"])
    def search(who: Who, q: Annotated[str, Query(min_length=2, max_length=80)],
               on: Day | None = None) -> list[dict[str, Any]]:
        """The public credit portal: published list entries and displayed penalties of
        subjects matching a name or code. Individuals' administrative penalties are not
        public."""
        return service.search(who, q, on or date.today())

    @app.get("/subjects/{subject}/file", tags=["subjects"])
    def file(who: Who, subject: str, on: Day | None = None) -> dict[str, Any]:
        """A subject's own full file, with explanations, notices, objections and repair
        options. Subjects see only their own; reviewers and admins any."""
        return service.file(who, subject, on or date.today())

    # Decisions are the hot path: their JSON (plain types only) is sent as it is, without
    # FastAPI's second pass over the response in another thread.
    @app.post("/decisions", tags=["enforcers"], response_model=dict[str, Any])
    async def decision(who: Who, ask: DecisionAsk) -> JSONResponse:
        """May the subject do the action on the date? Effect, measures and reasons; an
        enforcer sees only measures of memoranda its agency signed."""
        return JSONResponse((await service.decisions_async(
            who, [(ask.subject, ask.action, ask.on or date.today())]))[0])

    @app.post("/decisions/batch", tags=["enforcers"], response_model=list[dict[str, Any]])
    async def decisions(who: Who, batch: DecisionBatch) -> JSONResponse:
        return JSONResponse(await service.decisions_async(
            who, [(a.subject, a.action, a.on or date.today()) for a in batch.items]))

    @app.post("/records", tags=["agencies"])
    def submit_one(who: Who, record: RecordIn, idempotency_key: Annotated[
            str | None, Header(max_length=120)] = None, feed: FeedQ = None) -> dict[str, Any]:
        """Submit one record: validated as ingest validates a file."""
        return service.submit(who, [_fields(record)], idempotency_key, feed)

    @app.post("/records/batch", tags=["agencies"])
    def submit(who: Who, batch: RecordBatch, idempotency_key: Annotated[
            str | None, Header(max_length=120)] = None, feed: FeedQ = None) -> dict[str, Any]:
        """Submit records, all or nothing; every bad record is listed. The same
        Idempotency-Key (or the same records) twice writes nothing the second time."""
        return service.submit(who, [_fields(r) for r in batch.records], idempotency_key, feed)

    @app.post("/objections", tags=["subjects"])
    def object_(who: Who, body: ObjectionIn) -> dict[str, Any]:
        """Object to one's record, list entry or grade; disputed at once, answered in 20 days
        (30 under FCRA rules)."""
        return service.object(who, body.target, body.reason, body.rules)

    @app.post("/repairs", tags=["subjects"])
    def repair(who: Who, body: RepairIn) -> dict[str, Any]:
        """Apply for credit repair; too early, refused at once with the date it is possible."""
        return service.repair(who, body.target, body.reason)

    @app.get("/cases", tags=["reviewers"])
    def cases(who: Who, kind: Annotated[str | None, Query(
            pattern="^(objection|repair|review)$")] = None,
              on: Day | None = None) -> list[dict[str, Any]]:
        """Objections, repair applications and human reviews, with overdue marked."""
        return service.cases(who, kind, on or date.today())

    @app.post("/cases/{case}/resolve", tags=["reviewers"])
    def resolve(who: Who, case: str, body: ResolveIn) -> dict[str, Any]:
        """A reviewer's decision (with written reasons), or a subject withdrawing its own
        objection. An upheld objection revokes the record and notifies every agency that
        acted on it."""
        return service.resolve(who, case, body.outcome, body.reasons)

    @app.get("/notices", tags=["subjects"])
    def notices(who: Who) -> list[dict[str, Any]]:
        """Notices: a subject's own, an agency's corrections, or all for reviewers."""
        return service.notices(who)

    @app.get("/admin/policies", tags=["admin"])
    def policies(who: Who) -> dict[str, Any]:
        """The running policy and every version loaded, with lint counts and activation."""
        return admin.versions(who)

    @app.post("/admin/policies", tags=["admin"])
    def load_policy(who: Who, body: PolicyVersionIn) -> dict[str, Any]:
        """Load a new policy version and lint it. A version that does not build is refused
        with every problem (file, line, key); one that builds is stored with its findings."""
        return admin.load(who, body.files, body.remove, body.replace_all)

    @app.get("/admin/policies/{version}/impact", tags=["admin"])
    def impact(who: Who, version: str, on: Day | None = None) -> dict[str, Any]:
        """Before it takes effect: how many subjects in the ledger, by kind, region and
        urban/rural area, the version would newly restrict or release on the date, against
        the running policy; and per measure."""
        return admin.impact(who, version, on or date.today())

    @app.post("/admin/policies/{version}/activate", tags=["admin"])
    def activate(who: Who, version: str) -> dict[str, Any]:
        """The version takes effect in the service now; refused while it has lint errors."""
        return admin.activate(who, version)

    return app


def _fields(record: RecordIn) -> dict[str, Any]:
    return {k: v for k, v in record.model_dump(mode="json").items() if v not in (None, {})}


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
