"""The DuckDB SQL of the columnar generator (see :mod:`xinyong.sim.columnar`): one query per
table and chunk, over the small tables of :mod:`xinyong.sim.columnar_tables`. Check
characters are computed in SQL the way python-stdnum computes them (GB 11714 organisation
code, GB 32100 USCC, GB 11643 RIC); the tests validate every one with stdnum."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from faker.providers.company.zh_CN import Provider as Company
from faker.providers.person.zh_CN import Provider as Person

from xinyong.reference.regions import PROVINCE_ABBR
from xinyong.sim import columnar_tables as ct
from xinyong.sim import draws, shape
from xinyong.sim.columnar_tables import Sizes
from xinyong.sim.population import _PUBLIC_BODY_SUFFIXES, _SOCIAL_ORG_SUFFIXES

_A31 = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # USCC characters (stdnum.cn.uscc)
_A36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # organisation code characters (GB 11714)
_ORG_W = (3, 7, 9, 10, 5, 8, 4, 2)
_USCC_W = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_RIC_W = tuple(pow(13, 16 - k, 11) for k in range(17))  # stdnum: int(body, 13) mod 11


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _strs(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(_q(x) for x in items) + "]"


def _d(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def _coprime(n: int, near: int) -> int:
    a = max(1, near % max(n, 1))
    while math.gcd(a, n) != 1:
        a += 1
    return a


def _digit(s: str, k: int) -> str:
    return f"(ascii(substr({s}, {k + 1}, 1)) - 48)"


class Sql:
    """The queries, with the constants of one run baked in."""

    def __init__(self, con: duckdb.DuckDBPyConnection, t: ct.Tables, seed: int,
                 sizes: Sizes, start: date, end: date):
        self.con, self.t, self.s, self.start, self.end = con, t, sizes, start, end
        self.d = shape.DISTRIBUTIONS
        self.end_sql = _d(end)
        # one 64-bit key per draw (stage < 1024), hashed alone: DuckDB's integer hash mixes
        # every bit, whereas its combination of several arguments correlates the stages
        mix = int(hashlib.sha256(str(seed).encode()).hexdigest()[:15], 16)
        con.execute(f"CREATE MACRO u(s, k) AS (hash(xor(k::BIGINT * 1024 + s, {mix})) >> 11)"
                    "::DOUBLE / 9007199254740992.0")
        con.execute("CREATE MACRO pick(s, k, n) AS floor(u(s, k) * n)::INTEGER")
        # zero-padded numbers (printf is an order of magnitude slower in DuckDB)
        con.execute("CREATE MACRO pad(x, w) AS CASE WHEN length(x::VARCHAR) < w "
                    "THEN lpad(x::VARCHAR, w, '0') ELSE x::VARCHAR END")
        con.execute("CREATE MACRO cents(c) AS (c // 100)::VARCHAR || '.' "
                    "|| lpad((c % 100)::VARCHAR, 2, '0')")
        self._load()
        m = sizes.persons
        total = sum(t.person_weight)
        old = sum(w * o for w, o in zip(t.person_weight, t.old_share, strict=True)) / total
        self.old = round(m * old)
        self.pool = self.old if self.old >= 10 else m
        self.perm_a, self.perm_b = _coprime(m, 2654435761 + seed), seed % max(m, 1)
        e = sizes.firms
        self.firm_a, self.firm_b = _coprime(e, 40503 + 7 * seed), (3 * seed) % max(e, 1)
        self.uscc_a = _coprime(31 ** 8, 2862933555777941757 + seed)
        self.uscc_b = (seed * 1_000_003) % 31 ** 8
        self.next_record = 0  # records are numbered from here in the next chunk
        self.n_multi = min(round(self.d.multi_firm_share * m), self.pool // 2, e // 2)

    # --- small tables ----------------------------------------------------------------

    def _table(self, name: str, columns: dict[str, list[object]]) -> None:
        self.con.register("_src", pa.table(columns))
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _src")
        self.con.unregister("_src")

    def _load(self) -> None:
        t = self.t
        # amounts depend only on a category's fields and severity: one CASE branch each
        self.profiles = sorted({(x.fields, x.severity) for x in t.spans})
        rs = t.regions
        self._table("regions", {
            "ri": list(range(len(rs))), "code": [r.code for r in rs], "rname": [r.name for r in rs],
            "since": [r.since for r in rs], "urban": [r.urban for r in rs],
            "rc": list(t.region_class), "abbr": [PROVINCE_ABBR[r.code[:2]] for r in rs]})
        rows: dict[str, list[object]] = {"tbl": [], "col": [], "p": [], "a": [], "b": []}
        for tbl, weights in enumerate((
                [w * o for w, o in zip(t.person_weight, t.old_share, strict=True)],
                [w * (1 - o) for w, o in zip(t.person_weight, t.old_share, strict=True)],
                list(t.org_weight))):
            if sum(weights) <= 0:
                weights = [1.0] * len(weights)
            for col, p, a, b in ct.alias(weights):
                for k, v in zip(rows, (tbl, col, p, a, b), strict=True):
                    rows[k].append(v)
        self._table("region_alias", rows)
        s = t.spans
        self._table("spans", {
            "sid": [x.sid for x in s], "category": [x.category for x in s],
            "lo": [x.lo for x in s], "hi": [x.hi for x in s],
            "legal_basis": [x.legal_basis for x in s],
            "prof": [self.profiles.index((x.fields, x.severity)) for x in s],
            "rectifiable": [x.rectifiable for x in s], "min_months": [x.min_months for x in s],
            "min_days": [x.min_days for x in s]})
        mean = sum(t.levels) / len(t.levels)
        pois: dict[str, list[object]] = {"cls": [], "lvl": [], "n": [], "col": [], "p": [],
                                          "a": [], "b": []}
        # one alias table per class over every outcome (span, agency, channel), weighted
        # span weight / its agencies / the agency's channels: one join gives a record all
        sal: dict[str, list[object]] = {"cls": [], "n": [], "col": [], "p": [], "a": [], "b": []}
        out: dict[str, list[object]] = {"cls": [], "oid": [], "sid": [], "agency": [],
                                        "is_court": [], "channel": [], "doc": []}
        for cls in range(len(ct.KINDS) * t.n_region_classes):
            rate = t.rate(cls)
            for lvl, w in enumerate(t.levels):
                table = ct.alias(ct.poisson(rate * w / mean))
                for col, p, a, b in table:
                    for k, v in zip(pois, (cls, lvl, len(table), col, p, a, b), strict=True):
                        pois[k].append(v)
            outcome_w: list[float] = []
            for sid, weight, ags in t.class_spans.get(cls, []):
                for agency, chans in ags:
                    court = agency == "spc" or "court" in agency
                    for ch in chans:
                        row: tuple[object, ...] = (cls, len(outcome_w), sid, agency, court, ch,
                                                   agency.upper() + "-")
                        for key, val in zip(out, row, strict=True):
                            out[key].append(val)
                        outcome_w.append(weight / len(ags) / len(chans))
            if not outcome_w:
                continue
            table = ct.alias(outcome_w)
            for col, p, a, b in table:
                for k, v in zip(sal, (cls, len(table), col, p, a, b), strict=True):
                    sal[k].append(v)
        self._table("pois_alias", pois)
        self._table("span_alias", sal)
        self._table("outcomes", out)
        self.con.execute("""CREATE OR REPLACE TABLE outcomes AS
            SELECT o.*, x.category, x.lo, x.hi, x.legal_basis, x.rectifiable, x.prof,
                   x.min_months, x.min_days FROM outcomes o JOIN spans x USING (sid)""")
        self.con.execute("""CREATE OR REPLACE TABLE pois_sizes AS
            SELECT p.cls, p.lvl, p.n, coalesce(s.n, 0) AS m
            FROM (SELECT DISTINCT cls, lvl, n FROM pois_alias) p
            LEFT JOIN (SELECT DISTINCT cls, n FROM span_alias) s USING (cls)""")

    # --- persons ---------------------------------------------------------------------

    def person_core(self, src: str) -> str:
        """(i, ri, code, since, urban, rc, year, birth) of the persons at positions ``src.i``."""
        y0, y1 = self.d.birth_years
        n_r = len(self.t.regions)
        return f"""
        SELECT c.i, r.ri, r.code, r.rname, r.urban, r.rc, r.abbr, c.young,
               make_date(c.year, 1, 1) + pick(4, c.i,
                   make_date(c.year + 1, 1, 1) - make_date(c.year, 1, 1)) AS birth, c.year
        FROM (
          SELECT c.i, c.young, c.ri,
                 c.ylo + pick(3, c.i, c.yhi - c.ylo + 1) AS year
          FROM (
            SELECT s.i, (s.i >= {self.old}) AS young, x.ri,
                   CASE WHEN s.i >= {self.old}
                        THEN greatest({y0}, x.since, {self.t.pool_year + 1})
                        ELSE greatest({y0}, x.since) END AS ylo,
                   CASE WHEN s.i >= {self.old} THEN {y1} ELSE {self.t.pool_year} END AS yhi
            FROM ({src}) s
            JOIN region_alias al ON al.tbl = (s.i >= {self.old})::INTEGER
                                AND al.col = pick(1, s.i, {n_r})
            JOIN regions x ON x.ri = CASE WHEN u(2, s.i) < al.p THEN al.a ELSE al.b END
          ) c
        ) c JOIN regions r ON r.ri = c.ri"""

    def person_label(self, pos: str) -> str:
        m = max(self.s.persons, 1)
        return (f"('P' || pad(((({self.perm_a}::HUGEINT * ({pos}) + {self.perm_b}) "
                f"% {m}) + 1)::BIGINT, 6))")

    def persons_chunk(self, g: int, groups: int, lo: int, hi: int) -> None:
        cap = (999 - g) // groups + 1
        ric_sum = " + ".join(f"{_digit('body', k)} * {w}" for k, w in enumerate(_RIC_W))
        last = _strs(list(Person.last_names))
        first = _strs(list(Person.first_names))
        d = self.d
        opt = []
        for k, (pid, since) in enumerate(self.t.voluntary):
            days = (self.end - since).days + 1
            opt.append(f"CASE WHEN u({20 + k}, i) < {d.opt_in_share} THEN {{'programme': "
                       f"{_q(pid)}, 'since': {_d(since)} + pick({40 + k}, i, {days})}} END")
        listed = ", ".join(opt)
        opt_ins = (f"list_filter([{listed}], lambda x: x IS NOT NULL)" if opt
                   else "[]::STRUCT(programme VARCHAR, since DATE)[]")
        self.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE chunk_subjects AS
        WITH c AS ({self.person_core(f'SELECT range AS i FROM range({lo}, {hi})')}),
        k AS (SELECT *, row_number() OVER (PARTITION BY ri, birth ORDER BY i) - 1 AS rk,
                     pick(5, ri * 100000 + (birth - DATE '1900-01-01'), {cap}) AS h FROM c),
        b AS (SELECT *, code || strftime(birth, '%Y%m%d')
                        || pad({g} + {groups} * ((h + rk) % {cap}), 3) AS body FROM k),
        v AS (SELECT *, ((1 - 2 * (({ric_sum}) % 11)) % 11 + 11) % 11 AS chk FROM b)
        SELECT i AS pos, i AS key, {self.person_label('i')} AS id, 'person' AS kind,
               {last}[1 + pick(6, i, {len(Person.last_names)})]
                 || {first}[1 + pick(7, i, {len(Person.first_names)})] AS name,
               code AS region,
               [{{'scheme': 'cn-ric', 'value': body || CASE WHEN chk = 10 THEN 'X'
                                                      ELSE chk::VARCHAR END}}] AS identifiers,
               NULL::DATE AS registered, {opt_ins} AS opt_ins,
               u(8, i) < CASE WHEN urban THEN {d.urban_if_district} ELSE {d.urban_otherwise}
                         END AS urb,
               urb AS urban,
               u(9, i) < (CASE WHEN urb THEN {d.digital_urban} ELSE {d.digital_rural} END
                          - CASE WHEN year < 1965 THEN {d.digital_older_penalty} ELSE 0 END)
                 AS digital_access,
               (birth + INTERVAL 18 YEAR)::DATE AS since, rc AS cls, abbr, rk
        FROM v""")
        got = self.con.execute("SELECT max(rk) FROM chunk_subjects").fetchall()[0]
        if got and got[0] is not None and got[0] >= cap:
            raise ValueError(f"{got[0] + 1} persons share a region and birthday in one chunk "
                             f"but only {cap} sequence numbers are free; use fewer persons "
                             "per chunk (--chunk-records) or fewer persons")

    # --- organisations -------------------------------------------------------------------

    def registered(self, j: str) -> str:
        """The registration day of organisation ``j`` (a pure function of j: parents)."""
        s, parts = self.s, []
        bounds = (s.firms, s.firms + s.public_bodies)
        for o, bound in zip(self.d.organisations, (*bounds, None), strict=True):
            earliest = min(o.earliest, self.start)
            recent = max(earliest, date.fromordinal(self.end.toordinal() - 364))
            old_hi = max(earliest, date.fromordinal(recent.toordinal() - 1))
            expr = (f"CASE WHEN u(60, {j}) < {o.new_share} THEN {_d(recent)} + pick(61, {j}, "
                    f"{(self.end - recent).days + 1}) ELSE {_d(earliest)} + pick(61, {j}, "
                    f"{(old_hi - earliest).days + 1}) END")
            parts.append(f"WHEN {j} < {bound} THEN {expr}" if bound is not None
                         else f"ELSE {expr}")
        return "(CASE " + " ".join(parts) + " END)"

    def orgs_chunk(self, lo: int, hi: int) -> None:
        s = self.s
        e, g = s.firms, s.public_bodies
        digits = [f"((x // {31 ** (7 - k)}) % 31)::INTEGER" for k in range(8)]
        map36 = "[" + ", ".join(str(_A36.index(c)) for c in _A31) + "]"
        org_sum = " + ".join(f"{map36}[{dk} + 1] * {w}" for dk, w in zip(digits, _ORG_W,
                                                                          strict=True))
        body = " || ".join(f"substr('{_A31}', {dk} + 1, 1)" for dk in digits)
        uscc_parts = ["auth * 1", "1 * 3"] + [
            f"{_digit('code', k)} * {_USCC_W[2 + k]}" for k in range(6)] + [
            f"{dk} * {_USCC_W[8 + k]}" for k, dk in enumerate(digits)] + [
            f"(CASE WHEN oc = 10 THEN {_A31.index('X')} WHEN oc = 11 THEN 0 ELSE oc END) * 28"]
        kinds = ["enterprise", "public_body", "social_org"]
        prefix, auth = [o.prefix for o in self.d.organisations], [
            o.authority for o in self.d.organisations]
        n_r = len(self.t.regions)
        cp, cs = list(Company.company_prefixes), list(Company.company_suffixes)
        self.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE chunk_subjects AS
        WITH j AS (SELECT range AS j, CASE WHEN range < {e} THEN 0 WHEN range < {e + g} THEN 1
                   ELSE 2 END AS k FROM range({lo}, {hi})),
        r AS (SELECT j.*, rg.ri, rg.code, rg.rname, rg.rc, rg.abbr,
                     ({self.uscc_a}::HUGEINT * j + {self.uscc_b}) % {31 ** 8} AS x,
                     [{', '.join(auth)}][k + 1] AS auth,
                     j - CASE k WHEN 0 THEN 0 WHEN 1 THEN {e} ELSE {e + g} END AS local
              FROM j JOIN region_alias al ON al.tbl = 2 AND al.col = pick(62, j, {n_r})
              JOIN regions rg ON rg.ri = CASE WHEN u(63, j) < al.p THEN al.a ELSE al.b END),
        o AS (SELECT *, 11 - ({org_sum}) % 11 AS oc FROM r),
        c AS (SELECT *, {' + '.join(uscc_parts)} AS usum FROM o)
        SELECT j AS pos, {s.persons} + j AS key,
               {_strs(prefix)}[k + 1] || pad(local + 1, 6) AS id,
               {_strs(kinds)}[k + 1] AS kind,
               CASE k WHEN 0 THEN {_strs(cp)}[1 + pick(64, j, {len(cp)})]
                                  || {_strs(cs)}[1 + pick(65, j, {len(cs)})]
                      WHEN 1 THEN rname || {_strs(_PUBLIC_BODY_SUFFIXES)}[1 + pick(64, j,
                                                               {len(_PUBLIC_BODY_SUFFIXES)})]
                      ELSE rname || {_strs(_SOCIAL_ORG_SUFFIXES)}[1 + pick(64, j,
                                                               {len(_SOCIAL_ORG_SUFFIXES)})]
               END AS name,
               code AS region,
               [{{'scheme': 'cn-uscc', 'value': auth::VARCHAR || '1' || code || {body}
                  || CASE WHEN oc = 10 THEN 'X' WHEN oc = 11 THEN '0' ELSE oc::VARCHAR END
                  || substr('{_A31}', ((31 - usum % 31) % 31)::INTEGER + 1, 1)}}] AS identifiers,
               {self.registered('j')} AS registered,
               []::STRUCT(programme VARCHAR, since DATE)[] AS opt_ins,
               u(66, j) < CASE WHEN x_urban THEN {self.d.urban_if_district}
                          ELSE {self.d.urban_otherwise} END AS urban,
               u(67, j) < {self.d.digital_organisation} AS digital_access,
               registered AS since, (k + 1) * {self.t.n_region_classes} + rc AS cls, abbr
        FROM (SELECT c.*, rg.urban AS x_urban FROM c JOIN regions rg USING (ri))""")

    def links(self, lo: int, hi: int) -> str:
        d, e, ps = self.d, self.s.firms, self.pool
        counts = "[" + ", ".join(map(str, d.multi_firm_counts)) + "]"
        holders = "[" + ", ".join(map(str, d.other_holders)) + "]"
        end = self.end_sql
        firm = f"({self.firm_a}::HUGEINT * pos + {self.firm_b}) % {max(e, 1)}"
        return f"""
        WITH f AS (SELECT pos AS e, id AS org, registered AS reg, ({firm})::BIGINT AS q
                   FROM chunk_subjects WHERE pos < {e}),
        f2 AS (SELECT *, CASE WHEN q < {3 * self.n_multi}
                   AND q % 3 < {counts}[1 + pick(70, q // 3, {len(d.multi_firm_counts)})]
                   THEN pick(71, q // 3, {ps}) ELSE pick(72, e, {ps}) END AS lr FROM f),
        dr AS (
          SELECT e, org, reg, 0 AS ord, lr AS pp, 'legal_representative' AS role FROM f2
          UNION ALL SELECT e, org, reg, 1, pick(73, e, {ps}), 'legal_representative' FROM f2
          UNION ALL SELECT e, org, reg, 2, CASE WHEN u(74, e) < {d.responsible_is_representative}
                   THEN lr ELSE pick(75, e, {ps}) END, 'responsible_person' FROM f2
          UNION SELECT e, org, reg, 3, lr, 'shareholder' FROM f2
                WHERE u(76, e) < {d.representative_holds_shares}
          UNION SELECT e, org, reg, 3, pick(78, e, {ps}), 'shareholder' FROM f2
                WHERE {holders}[1 + pick(77, e, {len(d.other_holders)})] >= 1
          UNION SELECT e, org, reg, 3, pick(79, e, {ps}), 'shareholder' FROM f2
                WHERE {holders}[1 + pick(77, e, {len(d.other_holders)})] >= 2
          UNION ALL SELECT e, org, reg, 5, pick(80, e, {ps}), 'actual_controller' FROM f2
                WHERE u(81, e) < {d.actual_controller}
          UNION ALL SELECT pos, id, registered, 0, pick(72, pos, {ps}), 'legal_representative'
                FROM chunk_subjects WHERE pos >= {e}),
        p AS ({self.person_core('SELECT DISTINCT pp AS i FROM dr')}),
        j AS (SELECT dr.*, (p.birth + INTERVAL 18 YEAR)::DATE AS since,
                     {self.person_label('dr.pp')} AS party,
                     greatest(dr.reg, (p.birth + INTERVAL 18 YEAR)::DATE) AS st
              FROM dr JOIN p ON p.i = dr.pp),
        lr AS (SELECT e, max(st) FILTER (WHERE ord = 0) AS first,
                      max(pp) FILTER (WHERE ord = 0) AS lr, max(pp) FILTER (WHERE ord = 1) AS sc,
                      max(since) FILTER (WHERE ord = 1) AS sc_since
               FROM j WHERE ord <= 1 GROUP BY e),
        ch AS (SELECT e, CASE WHEN u(82, e) < {d.representative_changes}
                   AND {end} - first > 60 AND sc <> lr
                   AND sc_since < first + 30 + pick(83, e, {end} - first - 29)
                   THEN first + 30 + pick(83, e, {end} - first - 29) END AS change
               FROM lr WHERE e < {e}),
        rows AS (
          SELECT j.e, j.ord, j.pp, j.org, j.party, j.role,
                 CASE WHEN j.ord = 1 THEN ch.change ELSE j.st END AS start,
                 CASE WHEN j.ord = 0 THEN ch.change END AS "end"
          FROM j LEFT JOIN ch ON ch.e = j.e WHERE j.ord <> 1 OR ch.change IS NOT NULL
          UNION ALL
          SELECT e, 4, pr, org, 'E' || pad(pr + 1, 6), 'shareholder', reg, NULL
          FROM (SELECT e, org, reg, pick(85, e, {max(e, 1)}) AS pr FROM f
                WHERE u(84, e) < {d.parent_company})
          WHERE pr <> e AND {self.registered('pr')} <= reg)
        SELECT org AS organisation, party, role, start, "end" FROM rows
        ORDER BY e, ord, pp"""

    # --- records and events --------------------------------------------------------------

    def _amounts(self) -> str:
        """The amounts JSON of a record, by span (each span's category fields)."""
        whens = []
        for prof, (fields, sev) in enumerate(self.profiles):
            if not fields:
                continue
            severity = {"minor": 0.0, "general": 1.0, "serious": 2.0}[sev]
            parts = []
            if "tax_evaded" in fields:
                parts += self._tax("tax_payable" in fields)
            for k, name in enumerate(fields):
                if name in ("tax_evaded", "tax_payable") and "tax_evaded" in fields:
                    continue
                parts.append(f"'\"{name}\": \"' || {self._amount(name, 200 + 3 * k, severity)}"
                             " || '\"'")
            joined = " || ', ' || ".join(parts)
            whens.append(f"WHEN {prof} THEN '{{' || {joined} || '}}'")
        return "CASE prof " + " ".join(whens) + " ELSE '{}' END" if whens else "'{}'"

    @staticmethod
    def _amount(name: str, st: int, severity: float) -> str:
        if "days" in name:
            return f"(1 + pick({st}, rk, 720))::VARCHAR"
        if "hours" in name:
            return f"(1 + pick({st}, rk, 200))::VARCHAR"
        if any(w in name for w in ("count", "times", "number")):
            return f"(1 + pick({st}, rk, 20))::VARCHAR"
        if any(w in name for w in ("ratio", "rate", "share", "percent")):
            return f"'0.' || pad(1 + pick({st}, rk, 99), 2)"
        z = (f"sqrt(-2 * ln(1 - u({st}, rk))) * cos(2 * pi() * u({st + 1}, rk))")
        return f"cents(greatest(round(exp({8.0 + severity} + 1.4 * {z}) * 100), 1)::BIGINT)"

    def _tax(self, payable: bool) -> list[str]:
        th, share = float(draws.TAX_THRESHOLD), float(draws.TAX_RATIO)
        kind = "u(100, rk)"
        ev = (f"greatest(round(CASE WHEN {kind} < 1/3 THEN {th} + u(101, rk) * {29 * th} "
              f"WHEN {kind} < 2/3 THEN {0.01 * th} + u(101, rk) * {0.98 * th} "
              f"ELSE {th} + u(101, rk) * {19 * th} END * 100), 1)::BIGINT")
        ratio = (f"round((CASE WHEN {kind} < 1/3 THEN {share + 0.02} + u(102, rk) * "
                 f"{0.9 - share - 0.02} WHEN {kind} < 2/3 THEN 0.02 + u(102, rk) * 0.88 "
                 f"ELSE 0.01 + u(102, rk) * {share - 0.03} END) * 10000)::BIGINT")

        def cents(c: str) -> str:
            return f"cents({c})"

        out = [f"'\"tax_evaded\": \"' || {cents(ev)} || '\"'"]
        if payable:
            pc = f"greatest(({ev}) * 10000 // ({ratio}), ({ev}) + 1)"
            out.append(f"'\"tax_payable\": \"' || {cents(pc)} || '\"'")
        return out

    def records_chunk(self, offset: int) -> None:
        d, end = self.d, self.end_sql
        self.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE chunk_records AS
        WITH s AS (SELECT key, id AS subject, region, since, cls, abbr,
                          pick(90, key, {ct.LEVELS}) AS lvl FROM chunk_subjects),
        -- each alias table's size is joined first, so the column drawn is a join key
        s1 AS (SELECT s.*, pick(91, s.key, z.n) AS col, z.m FROM s
               JOIN pois_sizes z ON z.cls = s.cls AND z.lvl = s.lvl),
        n0 AS (SELECT s1.*, CASE WHEN u(92, s1.key) < pa.p THEN pa.a ELSE pa.b END AS cnt
               FROM s1 JOIN pois_alias pa ON pa.cls = s1.cls AND pa.lvl = s1.lvl
                                         AND pa.col = s1.col),
        -- record numbers: the subject's first slot after all earlier subjects' slots
        -- (records dropped below leave gaps; numbers stay unique and need no sort of records)
        n AS (SELECT n0.*, {offset} + sum(cnt) OVER (ORDER BY key) - cnt AS first FROM n0
              WHERE cnt > 0),
        r0 AS (SELECT n.*, unnest(range(cnt)) AS slot FROM n),
        r AS (SELECT r0.*, key * 4096 + slot AS rk, first + slot + 1 AS n,
                     pick(93, key * 4096 + slot, m) AS scol FROM r0),
        sp AS (SELECT r.*, CASE WHEN u(94, rk) < sa.p THEN sa.a ELSE sa.b END AS oid
               FROM r JOIN span_alias sa ON sa.cls = r.cls AND sa.col = r.scol),
        dt AS (SELECT sp.*, x.*, x.lo + pick(95, rk, x.hi - x.lo + 1) AS effective
               FROM sp JOIN outcomes x USING (cls, oid)),
        nb AS (SELECT dt.*, greatest(lo, effective - pick(96, rk,
                          {d.act_before_effective + 1})) AS act_date,
                      (effective + pick(99, rk, least({d.recording_lag}, {end} - effective) + 1)
                      )::TIMESTAMP + to_seconds(28800 + pick(89, rk, 36000)) AS recorded_at,
                      year(act_date) AS yr
               FROM dt WHERE since <= act_date)
        -- document numbers: the record's number, unique within its agency (court: region)
        -- and year, as a clerk's running number would be, without a sort by agency
        SELECT 'R' || pad(n, 7) AS id, subject, category, agency, act_date, effective,
               CASE WHEN is_court THEN '(' || yr || ')' || abbr || substr(region, 3) || '执'
                                       || n || '号'
                    ELSE doc || yr || '-' || pad(n, 7) END
                 AS document_no,
               legal_basis, recorded_at, {self._amounts()} AS amounts, channel,
               n, rk, rectifiable, min_months, min_days
        FROM nb""")
        got = self.con.execute("SELECT max(n) FROM chunk_records").fetchall()[0][0]
        self.next_record = max(offset, int(got or 0))

    def events(self, offset: int) -> str:
        d, end = self.d, self.end_sql
        lo, hi = d.rectified_after
        return f"""
        WITH e AS (SELECT id AS record, rk, recorded_at::DATE AS known, effective, rectifiable,
                          min_months, min_days, {end} - recorded_at::DATE AS room,
                          u(120, rk) < {d.revoked_share} AS revoked FROM chunk_records),
        rc AS (SELECT e.*, CASE WHEN NOT revoked AND rectifiable AND u(122, rk) < {
                   d.rectified_share} AND room >= {lo}
                   THEN known + {lo} + pick(123, rk, least({hi}, room) - {lo} + 1) END AS rect
               FROM e),
        rp AS (SELECT rc.*, greatest((effective + to_months(min_months))::DATE + min_days::INTEGER,
                                     coalesce(rect, known) + 1) AS earliest
               FROM rc WHERE NOT revoked AND min_months IS NOT NULL
                         AND u(124, rk) < {d.repaired_share}),
        ev AS (SELECT record, rk, 0 AS kno, 'revoked' AS kind,
                      known + 1 + pick(121, rk, least({d.revoked_within}, room)) AS day
               FROM e WHERE revoked AND room >= 1
               UNION ALL SELECT record, rk, 1, 'rectified', rect FROM rc WHERE rect IS NOT NULL
               UNION ALL SELECT record, rk, 2, 'repaired', earliest + pick(125, rk,
                   least({d.repaired_within}, {end} - earliest) + 1)
               FROM rp WHERE earliest <= {end}),
        st AS (SELECT ev.*, (day + pick(126 + kno, rk, least({d.event_lag}, {end} - day) + 1)
                      )::TIMESTAMP + to_seconds(28800 + pick(129 + kno, rk, 36000)) AS stamp
               FROM ev),
        nb AS (SELECT st.*, {offset} + row_number() OVER (ORDER BY stamp, rk, kno) AS n FROM st)
        SELECT 'EV' || pad(n, 7) AS id, record, kind, day AS effective,
               stamp AS recorded_at, '' AS note, '{{}}' AS amounts
        FROM nb ORDER BY n"""


__all__ = ["Sql", "json"]
