"""Where standings are read from: a ``Source`` gives the neighbourhoods evaluation reads and
the due-process facts recorded about subjects. The ledger and a population in memory
(``dataset.Dataset``) both are one; the standings room reads them only through this."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from xinyong.model import DueProcess, Link, Record, RecordEvent, Subject


class UnknownSubject(LookupError):
    """No subject for a key in a source, with what to give instead."""


@dataclass
class Neighbourhood:
    """A subject and everything linked to it within some hops: the related subjects, the
    records of all of them, those records' events and the links walked."""

    subject: Subject
    related: list[Subject]
    records: list[Record]
    events: list[RecordEvent]
    links: list[Link]


@runtime_checkable
class Source(Protocol):
    """What a standing is computed from."""

    def neighbourhoods(self, subjects: Iterable[Subject],
                       depth: int = 2) -> dict[str, Neighbourhood]:
        """Each subject's neighbourhood within ``depth`` hops, by subject id."""
        ...

    def due_facts(self, subjects: Sequence[str],
                  known_at: datetime) -> dict[str, DueProcess] | None:
        """By subject id, the due process recorded about each subject itself by ``known_at``
        (open objections, reviewers' confirmations, listing notices served); None for a
        source that keeps no due process (a population: the documented rules alone)."""
        ...
