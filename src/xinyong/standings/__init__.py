"""Standings (信用状况): one subject's or many subjects' ratings, list entries and measures
on a date, computed from a ``Source`` (the ledger, or a population in memory), and the
generation-keyed cache the service keeps them in. The one place a standing is computed."""

from xinyong.standings.cache import Cache, Entry
from xinyong.standings.evaluation import assess, due_states, standing, standings
from xinyong.standings.source import Neighbourhood, Source, UnknownSubject

__all__ = ["Cache", "Entry", "Neighbourhood", "Source", "UnknownSubject", "assess",
           "due_states", "standing", "standings"]
