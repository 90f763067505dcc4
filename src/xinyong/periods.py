"""Calendar arithmetic: ISO 8601 periods and working days. Pure, no clock."""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

_PERIOD = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar period such as ``P2Y`` or ``P3M``; months clamp to the month's end."""

    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Period:
        m = _PERIOD.match(text.strip().upper())
        if not m or not any(m.groups()):
            raise ValueError(
                f"{text!r} is not an ISO 8601 period; write e.g. 'P2Y', 'P3M', 'P10D' or 'P1Y6M'"
            )
        y, mo, w, d = (int(g) if g else 0 for g in m.groups())
        period = cls(years=y, months=mo, days=d + 7 * w)
        if period.approx_days() > 100 * 366:
            raise ValueError(f"{text!r} is longer than 100 years; no credit period is that long")
        return period

    def after(self, start: date) -> date:
        """The date this period after ``start`` (Jan 31 + P1M = Feb 28/29)."""
        total = start.month - 1 + self.months + 12 * self.years
        year, month = start.year + total // 12, total % 12 + 1
        day = min(start.day, monthrange(year, month)[1])
        return date(year, month, day) + timedelta(days=self.days)

    def before(self, end: date) -> date:
        total = end.month - 1 - self.months - 12 * self.years
        year, month = end.year + total // 12, total % 12 + 1
        day = min(end.day, monthrange(year, month)[1])
        return date(year, month, day) - timedelta(days=self.days)

    def __str__(self) -> str:
        out = "P"
        if self.years:
            out += f"{self.years}Y"
        if self.months:
            out += f"{self.months}M"
        if self.days or out == "P":
            out += f"{self.days}D"
        return out

    def approx_days(self) -> int:
        """Rough length, used only to compare bounds in lint."""
        return self.years * 365 + self.months * 30 + self.days


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days: Monday to Friday, less public holidays, plus make-up working days.

    工作日 — the make-up days (调休) are weekend days declared working days by the State Council.
    """

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    first: date | None = None
    """First day the published notices cover (None: none covered)."""
    last: date | None = None
    """Last day the published notices cover: the State Council publishes one year at a time."""

    @classmethod
    def of(cls, holidays: Iterable[date] = (), workdays: Iterable[date] = (),
           first: date | None = None, last: date | None = None) -> WorkingCalendar:
        return cls(frozenset(holidays), frozenset(workdays), first, last)

    def covers(self, day: date) -> bool:
        return self.first is not None and self.last is not None and self.first <= day <= self.last

    def beyond(self, start: date, end: date) -> str | None:
        """Why working days counted over [start, end] are only a weekday count, or None.

        Past the last published year the make-up days and moved holidays are unknown, so the
        answer may be wrong; callers show this as a warning, never silently."""
        if self.covers(start) and self.covers(end):
            return None
        if self.first is None or self.last is None:
            return (f"working days from {start} to {end} are a plain weekday count: "
                    "the calendar has no published holidays")
        return (f"working days from {start} to {end} are a plain weekday count past the "
                f"published calendar ({self.first} to {self.last}): holidays and make-up days "
                "are not yet published; check the result by hand")

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (``start`` itself is day 0)."""
        day, left = start, n
        while left > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]."""
        n, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n += 1
        return n
