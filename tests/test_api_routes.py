"""The API's routes live in one router per audience (issue 11, item 5), each route tagged with
its audience in the OpenAPI document, and the app serves exactly them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts

from xinyong.api.app import create_app
from xinyong.api.routes import ROUTERS
from xinyong.files import load_policy
from xinyong.ledger.store import Ledger

# docs/service.md, "Endpoints today", by audience
AUDIENCES = {
    "service": {("GET", "/health")},
    "public": {("GET", "/public/search")},
    "subjects": {("GET", "/subjects/{subject}/file"), ("POST", "/objections"),
                 ("POST", "/repairs"), ("GET", "/notices")},
    "enforcers": {("POST", "/decisions"), ("POST", "/decisions/batch")},
    "agencies": {("POST", "/records"), ("POST", "/records/batch")},
    "reviewers": {("GET", "/cases"), ("POST", "/cases/{case}/resolve")},
    "admin": {("GET", "/admin/policies"), ("POST", "/admin/policies"),
              ("POST", "/admin/policies/{version}/impact"),
              ("POST", "/admin/policies/{version}/activate"), ("GET", "/admin/jobs"),
              ("GET", "/admin/jobs/{job}"), ("DELETE", "/admin/jobs/{job}")},
}


def _ops(routes: list[Any]) -> set[tuple[str, str]]:
    return {(m, str(r.path)) for r in iter_route_contexts(routes)
            if isinstance(r.original_route, APIRoute) for m in r.methods or ()}


def test_one_router_per_audience() -> None:
    assert [r.tags for r in ROUTERS] == [[a] for a in AUDIENCES]
    for router, (audience, ops) in zip(ROUTERS, AUDIENCES.items(), strict=True):
        assert _ops(router.routes) == ops, audience


def test_the_app_serves_the_routers_and_the_document_tags_each_audience(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path}/ledger.db", clock=lambda: datetime(2024, 1, 1))
    app = create_app(ledger, load_policy())
    assert _ops(app.routes) == set().union(*AUDIENCES.values())
    doc = app.openapi()
    for audience, ops in AUDIENCES.items():
        for method, path in ops:
            assert doc["paths"][path][method.lower()]["tags"] == [audience]
