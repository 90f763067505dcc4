"""The API's routes, one router per audience (the OpenAPI tags): the service itself, the
public, subjects, enforcers, agencies, reviewers and admins. A route only parses and calls the
service (a dependency, ``deps.Svc``), which decides who may do what."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from xinyong.api.deps import Adm, Svc, Who
from xinyong.api.models import (
    Day,
    DecisionAsk,
    DecisionBatch,
    FeedQ,
    JobStateQ,
    ObjectionIn,
    PolicyVersionIn,
    RecordBatch,
    RecordIn,
    RepairIn,
    ResolveIn,
)

service_api = APIRouter(tags=["service"])
public_api = APIRouter(tags=["public"])
subjects_api = APIRouter(tags=["subjects"])
enforcers_api = APIRouter(tags=["enforcers"])
agencies_api = APIRouter(tags=["agencies"])
reviewers_api = APIRouter(tags=["reviewers"])
admin_api = APIRouter(tags=["admin"])


# --- service -------------------------------------------------------------------------------


@service_api.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


# --- public --------------------------------------------------------------------------------


@public_api.get("/public/search")
def search(who: Who, service: Svc, q: Annotated[str, Query(min_length=2, max_length=80)],
           on: Day | None = None) -> list[dict[str, Any]]:
    """The public credit portal: published list entries and displayed penalties of
    subjects matching a name or code. Individuals' administrative penalties are not
    public."""
    return service.search(who, q, on or date.today())


# --- subjects ------------------------------------------------------------------------------


@subjects_api.get("/subjects/{subject}/file")
def file(who: Who, service: Svc, subject: str, on: Day | None = None) -> dict[str, Any]:
    """A subject's own full file, with explanations, notices, objections and repair
    options. Subjects see only their own; reviewers and admins any."""
    return service.file(who, subject, on or date.today())


@subjects_api.post("/objections")
def object_(who: Who, service: Svc, body: ObjectionIn) -> dict[str, Any]:
    """Object to one's record, list entry or grade; disputed at once, answered in 20 days
    (30 under FCRA rules)."""
    return service.object(who, body.target, body.reason, body.rules)


@subjects_api.post("/repairs")
def repair(who: Who, service: Svc, body: RepairIn) -> dict[str, Any]:
    """Apply for credit repair; too early, refused at once with the date it is possible."""
    return service.repair(who, body.target, body.reason)


@subjects_api.get("/notices")
def notices(who: Who, service: Svc) -> list[dict[str, Any]]:
    """Notices: a subject's own, an agency's corrections, or all for reviewers."""
    return service.notices(who)


# --- enforcers -----------------------------------------------------------------------------


# Decisions are the hot path: their JSON (plain types only) is sent as it is, without
# FastAPI's second pass over the response in another thread.
@enforcers_api.post("/decisions", response_model=dict[str, Any])
async def decision(who: Who, service: Svc, ask: DecisionAsk) -> JSONResponse:
    """May the subject do the action on the date? Effect, measures and reasons; an
    enforcer sees only measures of memoranda its agency signed."""
    return JSONResponse((await service.decisions_async(
        who, [(ask.subject, ask.action, ask.on or date.today())]))[0])


@enforcers_api.post("/decisions/batch", response_model=list[dict[str, Any]])
async def decisions(who: Who, service: Svc, batch: DecisionBatch) -> JSONResponse:
    return JSONResponse(await service.decisions_async(
        who, [(a.subject, a.action, a.on or date.today()) for a in batch.items]))


# --- agencies ------------------------------------------------------------------------------


@agencies_api.post("/records")
def submit_one(who: Who, service: Svc, record: RecordIn, idempotency_key: Annotated[
        str | None, Header(max_length=120)] = None, feed: FeedQ = None) -> dict[str, Any]:
    """Submit one record: validated as ingest validates a file."""
    return service.submit(who, [_fields(record)], idempotency_key, feed)


@agencies_api.post("/records/batch")
def submit(who: Who, service: Svc, batch: RecordBatch, idempotency_key: Annotated[
        str | None, Header(max_length=120)] = None, feed: FeedQ = None) -> dict[str, Any]:
    """Submit records, all or nothing; every bad record is listed. The same
    Idempotency-Key (or the same records) twice writes nothing the second time."""
    return service.submit(who, [_fields(r) for r in batch.records], idempotency_key, feed)


# --- reviewers -----------------------------------------------------------------------------


@reviewers_api.get("/cases")
def cases(who: Who, service: Svc, kind: Annotated[str | None, Query(
        pattern="^(objection|repair|review)$")] = None,
          on: Day | None = None) -> list[dict[str, Any]]:
    """Objections, repair applications and human reviews, with overdue marked."""
    return service.cases(who, kind, on or date.today())


@reviewers_api.post("/cases/{case}/resolve")
def resolve(who: Who, service: Svc, case: str, body: ResolveIn) -> dict[str, Any]:
    """A reviewer's decision (with written reasons), or a subject withdrawing its own
    objection. An upheld objection revokes the record and notifies every agency that
    acted on it."""
    return service.resolve(who, case, body.outcome, body.reasons)


# --- admin ---------------------------------------------------------------------------------


@admin_api.get("/admin/policies")
def policies(who: Who, admin: Adm) -> dict[str, Any]:
    """The running policy and every version loaded, with lint counts and activation."""
    return admin.versions(who)


@admin_api.post("/admin/policies")
def load_policy(who: Who, admin: Adm, body: PolicyVersionIn) -> dict[str, Any]:
    """Load a new policy version and lint it. A version that does not build is refused
    with every problem (file, line, key); one that builds is stored with its findings."""
    return admin.load(who, body.files, body.remove, body.replace_all)


_JOB_STARTED: dict[int | str, dict[str, Any]] = {202: {
    "description": "The job is queued: its document; poll Location",
    "headers": {"Location": {"description": "The job: GET it for state, progress and result",
                             "schema": {"type": "string"}}}}}


@admin_api.post("/admin/policies/{version}/impact", status_code=202,
                response_model=dict[str, Any], responses=_JOB_STARTED)
def impact(who: Who, admin: Adm, version: str, on: Day | None = None) -> JSONResponse:
    """Start the impact analysis as a job: before it takes effect, how many subjects in the
    ledger, by kind, region and urban/rural area, the version would newly restrict or
    release on the date, against the running policy; and per measure. Answers 202 with the
    queued job; ``GET /admin/jobs/{job}`` has its progress and, once done, the result."""
    job = admin.start_impact(who, version, on or date.today())
    return JSONResponse(job, status_code=202, headers={"Location": job["links"]["self"]})


@admin_api.get("/admin/jobs")
def jobs(who: Who, admin: Adm, state: JobStateQ = None,
         limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Jobs, newest first, without their results; only those in ``state`` if given."""
    return admin.job_list(who, state, limit)


@admin_api.get("/admin/jobs/{job}")
def job(who: Who, admin: Adm, job: str) -> dict[str, Any]:
    """A job: state (queued, running, done, failed, cancelled, interrupted), progress
    (subjects done of total), why it failed, was cancelled or interrupted, and once done its
    result."""
    return admin.job(who, job)


@admin_api.delete("/admin/jobs/{job}", response_model=dict[str, Any], responses={
    202: {"description": "The job is running: asked to stop at its next step"}})
def cancel_job(who: Who, admin: Adm, job: str) -> JSONResponse:
    """Cancel a job: a queued one at once (200, ``cancelled``); a running one stops at its
    next step (202, still ``running`` with ``cancel_requested_by``; it ends ``cancelled``).
    A job that has ended cannot be cancelled (422)."""
    doc = admin.cancel(who, job)
    return JSONResponse(doc, status_code=200 if doc["state"] == "cancelled" else 202)


@admin_api.post("/admin/policies/{version}/activate")
def activate(who: Who, admin: Adm, version: str) -> dict[str, Any]:
    """The version takes effect in the service now; refused while it has lint errors."""
    return admin.activate(who, version)


ROUTERS = (service_api, public_api, subjects_api, enforcers_api, agencies_api, reviewers_api,
           admin_api)
"""Every router, in the order the app includes them."""


def _fields(record: RecordIn) -> dict[str, Any]:
    return {k: v for k, v in record.model_dump(mode="json").items() if v not in (None, {})}
