"""Ratings published once a year (``engine.rating.published_rating``): refused until the
per-subject year views are compiled."""

from __future__ import annotations

import sqlglot.expressions as exp

from xinyong.engine.batch.build import Build
from xinyong.engine.batch.sql import Unsupported
from xinyong.policy.schema import Scheme


def published(b: Build, scheme: Scheme) -> exp.Select:
    from xinyong.engine.batch.ratings import _where
    raise Unsupported(_where(b.policy, scheme, "publication"))
