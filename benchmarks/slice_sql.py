"""The hand-written DuckDB query of the benchmark's slice (issue 12): the tax rating
(sat.tax_credit), the court list (spc.dishonest_debtors.*) and its memorandum measures with
the legal-representative extension, written by hand from policies/tax-rating/scheme.toml,
policies/court-debtors/lists.toml and memoranda.toml for one as-of.

It is the yardstick the compiled plan is timed against, written as a person would write it
for speed. What it leaves out (so the figures read as a lower bound on the real cost):
re-evaluations (tax.credit.reevaluated) and earlier scheme versions, extensions by repeated
acts, the working-day calendar (3 working days read as 5 days), notices and due process.
The tax rating part gave the per-subject engine's grades for every firm of one population
(docs/performance.md); the court list and the measures have not been checked against it.
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFUSAL = "judicial.debtor.refuses_to_perform"
CONDUCT = ("judicial.debtor.obstructs_enforcement", "judicial.debtor.evades_enforcement",
           "judicial.debtor.breach_asset_report", "judicial.debtor.breach_spending_order",
           "judicial.debtor.refuses_settlement")


def clauses() -> list[tuple[str, str, bool]]:
    """(clause, measure, extends to the legal representative) of the court list's clauses."""
    doc = tomllib.loads((ROOT / "policies/court-debtors/memoranda.toml").read_text("utf-8"))
    return [(c["id"], c["measure"], "legal_representative" in c.get("extend_to", []))
            for m in doc["memorandum"] for c in m.get("clause", [])
            if c["list"] == "spc.dishonest_debtors"]


def queries(as_of: date) -> dict[str, str]:
    """Output name -> DuckDB SQL over views subjects, links, records, events."""
    # the rating in force on as_of: published 1 April for the year before
    year = as_of.year - 1 if as_of >= date(as_of.year, 4, 1) else as_of.year - 2
    rated, published = date(year, 12, 31), date(year + 1, 4, 1)
    one, two = rated.replace(year=rated.year - 1), rated.replace(year=rated.year - 2)
    known = f"TIMESTAMP '{published + timedelta(days=1)}'"
    # a revoked record is as if it never existed: a revocation known by as-of removes it
    # from the published rating too (as the per-subject engine reads it)
    facts = f"""
    WITH rec AS (SELECT r.* FROM records r WHERE r.recorded_at < {known}
            AND r.effective <= DATE '{rated}'
            AND r.id NOT IN (SELECT record FROM events WHERE kind = 'revoked'
                             AND recorded_at < TIMESTAMP '{as_of + timedelta(days=1)}'))"""
    tax = f"""{facts},
    firm AS (SELECT id, registered FROM subjects WHERE kind = 'enterprise'
             AND registered <= DATE '{rated}'),
    score AS (SELECT f.id, greatest(0, least(100, 100
                - 5 * count(*) FILTER (WHERE r.category = 'tax.late_filing'
                                       AND r.effective > DATE '{one}')
                - 3 * count(*) FILTER (WHERE r.category = 'tax.late_payment'
                                       AND r.effective > DATE '{one}')
                - 11 * count(*) FILTER (WHERE r.category = 'tax.invoice_irregular'
                                        AND r.effective > DATE '{one}'))) AS score,
                bool_or(r.effective > DATE '{two}' AND (r.category IN
                    ('tax.unpaid_after_decision', 'tax.obstructs_inspection', 'tax.absconded')
                    OR (r.category = 'tax.evasion'
                        AND json_extract_string(r.amounts, '$.tax_evaded')::DECIMAL(38,6)
                            >= 100000
                        AND json_extract_string(r.amounts, '$.tax_evaded')::DECIMAL(38,6)
                            >= 0.10 * json_extract_string(r.amounts, '$.tax_payable')
                                      ::DECIMAL(38,6)))) AS direct_d,
                bool_or(r.category = 'tax.filing.zero_income' AND r.effective > DATE '{one}')
                  AS zero_income,
                any_value(f.registered) AS registered
              FROM firm f LEFT JOIN rec r ON r.subject = f.id GROUP BY f.id),
    own AS (SELECT *, direct_d OR score < 40 AS own_d FROM score),
    rp AS (SELECT organisation, party FROM links WHERE role = 'responsible_person'
           AND start <= DATE '{rated}' AND ("end" IS NULL OR "end" > DATE '{rated}')),
    carried AS (SELECT DISTINCT a.organisation AS id FROM rp a JOIN rp b
                ON b.party = a.party AND b.organisation <> a.organisation
                JOIN own o ON o.id = b.organisation AND o.own_d)
    SELECT o.id AS subject, 'sat.tax_credit' AS scheme, o.score::DECIMAL(38,6) AS score,
           CASE WHEN o.score >= 90 THEN 'A' WHEN o.score >= 70 THEN 'B'
                WHEN o.score >= 40 THEN 'C' ELSE 'D' END AS band_grade,
           CASE WHEN o.own_d OR c.id IS NOT NULL THEN 'D'
                WHEN o.registered > DATE '{one}' OR (o.zero_income AND o.score >= 70) THEN 'M'
                WHEN o.score >= 90 THEN 'A' WHEN o.score >= 70 THEN 'B' ELSE 'C' END AS grade
    FROM own o LEFT JOIN carried c ON c.id = o.id"""
    conduct = ", ".join(f"'{c}'" for c in CONDUCT)
    cut = f"TIMESTAMP '{as_of + timedelta(days=1)}'"
    entries = f"""
    WITH ev AS (SELECT record, kind, min(effective) AS day FROM events
                WHERE recorded_at < {cut} AND effective <= DATE '{as_of}' GROUP BY ALL),
    trig AS (SELECT r.id, r.subject, r.category, r.effective + INTERVAL 1 MONTH AS start
             FROM records r WHERE r.recorded_at < {cut}
             AND r.category IN ('{REFUSAL}', {conduct})
             AND r.id NOT IN (SELECT record FROM ev WHERE kind = 'revoked'))
    SELECT t.id AS record, t.subject, t.start::DATE AS start,
           CASE WHEN t.category = '{REFUSAL}' THEN NULL
                ELSE (t.start + INTERVAL 2 YEAR)::DATE END AS planned_end,
           least(rc.day + 5, CASE WHEN t.category = '{REFUSAL}' THEN NULL
                ELSE (t.start + INTERVAL 2 YEAR)::DATE END) AS "end"
    FROM trig t LEFT JOIN ev rc ON rc.record = t.id AND rc.kind = 'rectified'
    WHERE t.start <= DATE '{as_of}'"""
    rows = ", ".join(f"('{c}', '{m}', {str(x).lower()})" for c, m, x in clauses())
    measures = f"""
    WITH e AS ({entries}),
    active AS (SELECT * FROM e WHERE "end" IS NULL OR "end" > DATE '{as_of}'),
    cl(clause, measure, extend) AS (VALUES {rows}),
    lr AS (SELECT organisation, party FROM links WHERE role = 'legal_representative'
           AND start <= DATE '{as_of}' AND ("end" IS NULL OR "end" > DATE '{as_of}'))
    SELECT a.subject, cl.measure, cl.clause, NULL AS via, a.subject AS listed_subject,
           a.record AS entry FROM active a CROSS JOIN cl
    UNION ALL
    SELECT lr.party, cl.measure, cl.clause, 'legal_representative', a.subject, a.record
    FROM active a JOIN lr ON lr.organisation = a.subject JOIN cl ON cl.extend"""
    return {"ratings": tax, "entries": entries, "measures": measures}
