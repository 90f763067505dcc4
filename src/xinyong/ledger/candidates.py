"""Candidates for a row without an identifier: the known subjects closest to its name, ranked
for the person who links it (identity is never guessed; see the review queue)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any


def _norm(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).casefold()


def candidates(name: str, region: str, pool: Mapping[str, tuple[str, str]],
               limit: int = 5) -> list[dict[str, Any]]:
    """The known subjects closest to a name, ranked: same region (district, then province)
    first, then name similarity (rapidfuzz ratio on normalised names). Each says why."""
    from rapidfuzz import fuzz, process

    names = {sid: _norm(n) for sid, (n, _) in pool.items()}
    found = process.extract(_norm(name), names, scorer=fuzz.ratio, limit=None,
                            score_cutoff=50)

    def place(sid: str) -> int:
        other = pool[sid][1]
        return 2 if region and other == region else 1 if region and other[:2] == region[:2] else 0

    ranked = sorted(found, key=lambda f: (-place(f[2]), -f[1], f[2]))[:limit]
    where = {2: "same district", 1: "same province", 0: "other region"}
    return [{"subject": sid, "name": pool[sid][0], "region": pool[sid][1],
             "score": round(score, 1),
             "why": f"name {round(score)}% alike, {where[place(sid)]}"}
            for _, score, sid in ranked]
