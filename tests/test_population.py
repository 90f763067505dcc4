"""The synthetic population: deterministic, valid, consistent with the policy, round-trips."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from xinyong.files import default_policy_dir, load_policy, read_policy_texts
from xinyong.ids import validate
from xinyong.model import EventKind, LinkRole, Subject, SubjectKind
from xinyong.policy.loader import build
from xinyong.policy.model import Policy
from xinyong.policy.schema import Domain
from xinyong.sim import Population, generate, read_population, write_population

SIZES = {"persons": 300, "enterprises": 60, "public_bodies": 6, "social_orgs": 6}

# Categories the generator must handle whatever the shipped presets hold: a debtor
# category (rectified events), tax amounts with thresholds, a minimum publicity period,
# a category that changes in the window, and a voluntary programme.
FIXTURE = {
    "policies/zz-simtest/preset.toml": """
[preset]
id = "zz-simtest"
title = "Fixture for the population generator tests"
requires = ["national"]
[[preset.sources]]
id = "tests"
title = "tests/test_population.py"
""",
    "policies/zz-simtest/catalog.toml": """
[[agency]]
id = "zz_simtest.district-bureau"
name = "Test district bureau in Nanshan, Shenzhen"
level = "county"
region = "440305"
effective_from = 2000-01-01
legal_basis = ["admin-penalty-law"]

[[category]]
id = "simtest.local.penalty"
title = "Test local penalty"
domain = "social"
data_class = "penalty"
severity = "minor"
subject_kinds = ["person", "enterprise"]
agencies = ["zz_simtest.district-bureau"]
effective_from = 2018-01-01
legal_basis = ["admin-penalty-law"]

[[category]]
id = "judicial.debtor.simtest"
title = "Test debtor who refuses to perform"
domain = "judicial"
data_class = "judicial"
severity = "serious"
subject_kinds = ["person", "enterprise"]
agencies = ["courts"]
effective_from = 2013-01-01
legal_basis = ["civil-procedure-law"]
publicity = { min = "P1Y", max = "P3Y" }

[[category]]
id = "simtest.tax.evasion"
title = "Test tax evasion"
domain = "commercial"
data_class = "tax"
severity = "serious"
subject_kinds = ["enterprise"]
agencies = ["sat"]
amounts = ["tax_evaded", "tax_payable"]
effective_from = 2016-01-01
legal_basis = ["tax-collection-law"]

[[category]]
id = "simtest.penalty.general"
title = "Test administrative penalty"
domain = "commercial"
data_class = "penalty"
severity = "general"
subject_kinds = ["enterprise", "social_org", "public_body"]
agencies = ["samr", "mohurd"]
amounts = ["fine"]
effective_from = 2015-01-01
effective_to = 2021-07-01
legal_basis = ["admin-penalty-law"]
publicity = { min = "P3M", max = "P1Y" }

[[category]]
id = "simtest.penalty.general"
title = "Test administrative penalty, revised"
domain = "commercial"
data_class = "penalty"
severity = "general"
subject_kinds = ["enterprise", "social_org"]
agencies = ["samr", "zz_simtest.district-bureau"]
amounts = ["fine", "overdue_days"]
effective_from = 2021-07-01
legal_basis = ["admin-penalty-law"]
publicity = { min = "P3M", max = "P1Y" }

[[category]]
id = "simtest.social.minor"
title = "Test minor social misconduct"
domain = "social"
data_class = "penalty"
severity = "minor"
subject_kinds = ["person"]
agencies = ["mps"]
effective_from = 2022-03-01
legal_basis = ["admin-penalty-law"]
""",
    "policies/zz-simtest-vol/preset.toml": """
[preset]
id = "zz-simtest-vol"
title = "Fixture voluntary programme"
voluntary = true
requires = ["national"]
[[preset.sources]]
id = "tests"
title = "tests/test_population.py"
""",
}


@pytest.fixture(scope="module")
def policy() -> Policy:
    root = default_policy_dir()
    return build({**read_policy_texts(root), **FIXTURE})


@pytest.fixture(scope="module")
def pop(policy: Policy) -> Population:
    return generate(policy, seed=7, **SIZES)


@pytest.fixture(scope="module")
def big(policy: Policy) -> Population:
    return generate(policy, seed=3)


def test_shipped_policy_generates() -> None:
    pop = generate(load_policy(), seed=1, **SIZES)
    assert len(pop.subjects) == sum(SIZES.values())
    for r in pop.records:
        assert r.category


def test_deterministic(policy: Policy, pop: Population) -> None:
    again = generate(policy, seed=7, **SIZES)
    assert again == pop
    other = generate(policy, seed=8, **SIZES)
    assert other != pop
    assert [s.identifiers for s in other.subjects] != [s.identifiers for s in pop.subjects]


def test_subjects(pop: Population) -> None:
    kinds = Counter(s.kind for s in pop.subjects)
    assert kinds == {
        SubjectKind.PERSON: 300,
        SubjectKind.ENTERPRISE: 60,
        SubjectKind.PUBLIC_BODY: 6,
        SubjectKind.SOCIAL_ORG: 6,
    }
    ids = [s.id for s in pop.subjects]
    assert len(set(ids)) == len(ids)
    values = [i.value for s in pop.subjects for i in s.identifiers]
    assert len(set(values)) == len(values)
    prefix = {"person": "P", "enterprise": "E", "public_body": "G", "social_org": "S"}
    authority = {"enterprise": "9", "public_body": "1", "social_org": "5"}
    for s in pop.subjects:
        assert s.id[0] == prefix[s.kind] and s.name
        assert len(s.identifiers) == 1
        ident = s.identifiers[0]
        assert validate(ident.scheme, ident.value) == ident
        assert ident.value[2:8] == s.region if not s.is_person else ident.value[:6] == s.region
        if s.is_person:
            assert ident.scheme == "cn-ric" and s.registered is None
            assert 1950 <= int(ident.value[6:10]) <= 2004
        else:
            assert ident.scheme == "cn-uscc" and s.registered is not None
            assert ident.value[:2] == authority[s.kind] + "1"
    # some organisations are new entities (registered in the last year)
    new = [s for s in pop.subjects if s.registered and (pop.end - s.registered).days < 365]
    assert new


def test_opt_ins(policy: Policy, pop: Population) -> None:
    persons = [s for s in pop.subjects if s.is_person]
    joined = [s for s in persons if s.opted_in("zz-simtest-vol", pop.end)]
    assert 0.15 < len(joined) / len(persons) < 0.45
    for s in pop.subjects:
        for programme, since in s.opt_ins:
            assert s.is_person and policy.presets[programme].voluntary
            assert pop.start <= since <= pop.end


def test_links(pop: Population) -> None:
    subjects = {s.id: s for s in pop.subjects}
    by_org = defaultdict(list)
    for link in pop.links:
        org, party = subjects[link.organisation], subjects[link.party]
        assert not org.is_person and org.registered is not None
        assert link.start >= org.registered
        assert link.end is None or link.end > link.start
        if link.role is not LinkRole.SHAREHOLDER:
            assert party.is_person
        by_org[link.organisation].append(link)
    days = [pop.start, date(2022, 6, 1), pop.end]
    for s in pop.subjects:
        if s.kind is not SubjectKind.ENTERPRISE:
            continue
        assert s.registered is not None
        for day in [s.registered, *(d for d in days if d >= s.registered)]:
            held = [
                lk
                for lk in by_org[s.id]
                if lk.role is LinkRole.LEGAL_REPRESENTATIVE and lk.holds_on(day)
            ]
            assert len(held) == 1, (s.id, day)
        assert any(lk.role is LinkRole.RESPONSIBLE_PERSON for lk in by_org[s.id])
    runs = defaultdict(set)
    for link in pop.links:
        if link.role in (LinkRole.LEGAL_REPRESENTATIVE, LinkRole.RESPONSIBLE_PERSON):
            runs[link.party].add(link.organisation)
    assert 0.02 < sum(len(v) >= 2 for v in runs.values()) / 300 < 0.10


def test_records_follow_the_policy(policy: Policy, pop: Population) -> None:
    assert pop.records
    subjects = {s.id: s for s in pop.subjects}
    laws = set(policy.laws)
    for r in pop.records:
        assert pop.start <= r.act_date <= r.effective <= pop.end
        assert (r.effective - r.act_date).days <= 60
        cat = policy.at(r.effective).categories[r.category]
        assert cat.in_force(r.act_date)
        assert r.agency in cat.agencies
        s = subjects[r.subject]
        assert s.kind in cat.subject_kinds
        if s.registered is not None:
            assert s.registered <= r.act_date
        assert r.legal_basis == cat.legal_basis[0] and r.legal_basis.split("#")[0] in laws
        assert r.effective <= r.recorded_at.date() <= pop.end
        assert (r.recorded_at.date() - r.effective).days <= 30
        assert set(r.amounts) == set(cat.amounts)
        assert all(v > 0 and v == v.quantize(Decimal("0.01")) for v in r.amounts.values())
        assert r.document_no
    ids = [r.id for r in pop.records]
    assert len(set(ids)) == len(ids)
    docs = [r.document_no for r in pop.records]
    assert len(set(docs)) == len(docs)
    minor = [r for r in pop.records if r.category == "simtest.social.minor"]
    assert minor and all(r.act_date >= date(2022, 3, 1) for r in minor)


def test_category_versions(big: Population) -> None:
    # the revision of 2021-07-01 drops public bodies and adds an amount
    revised = [r for r in big.records if r.category == "simtest.penalty.general"]
    after = [r for r in revised if r.effective >= date(2021, 7, 1)]
    before = [r for r in revised if r.effective < date(2021, 7, 1)]
    assert after and before
    assert all(r.act_date >= date(2021, 7, 1) and "overdue_days" in r.amounts for r in after)
    assert all(r.act_date < date(2021, 7, 1) and "overdue_days" not in r.amounts for r in before)
    assert not any(r.subject.startswith("G") for r in after)


def test_local_agencies_record_local_subjects(policy: Policy, big: Population) -> None:
    subjects = {s.id: s for s in big.subjects}
    regions = {a.id: a.region for a in policy.all("agency") if a.region}
    for r in big.records:
        if r.agency in regions:
            prefix = regions[r.agency]
            while prefix.endswith("00"):
                prefix = prefix[:-2]
            assert subjects[r.subject].region.startswith(prefix), (r.id, r.agency)
    local = [r for r in big.records if r.category == "simtest.local.penalty"]
    assert len(local) >= 5
    assert all(subjects[r.subject].region == "440305" for r in local)


def test_tax_thresholds(big: Population) -> None:
    tax = [r.amounts for r in big.records if r.category == "simtest.tax.evasion"]
    assert len(tax) >= 3
    crossing = 0
    for a in tax:
        assert a["tax_payable"] > a["tax_evaded"]
        if a["tax_evaded"] >= 100000 and a["tax_evaded"] / a["tax_payable"] >= Decimal("0.10"):
            crossing += 1
    assert 0 < crossing < len(tax)


def test_shares_are_plausible(big: Population) -> None:
    per_subject = Counter(r.subject for r in big.records)
    counts = [per_subject.get(s.id, 0) for s in big.subjects]
    assert sum(c <= 20 for c in counts) / len(counts) > 0.95
    assert max(counts) > 3 * sum(counts) / len(counts)  # a heavier tail for some
    debtor = [r.id for r in big.records if r.category.startswith("judicial.debtor")]
    rectified = {e.record for e in big.events if e.kind is EventKind.RECTIFIED}
    assert 0.25 < len(rectified & set(debtor)) / len(debtor) < 0.5
    revoked = {e.record for e in big.events if e.kind is EventKind.REVOKED}
    assert 0.005 < len(revoked) / len(big.records) < 0.04


def test_events(policy: Policy, pop: Population) -> None:
    records = {r.id: r for r in pop.records}
    kinds = Counter(e.kind for e in pop.events)
    assert kinds[EventKind.RECTIFIED] and kinds[EventKind.REPAIRED]
    per_record = defaultdict(list)
    for e in pop.events:
        r = records[e.record]
        per_record[e.record].append(e)
        assert r.effective < e.effective <= pop.end
        assert e.recorded_at > r.recorded_at
        assert e.effective <= e.recorded_at.date() <= pop.end
        if e.kind is EventKind.RECTIFIED:
            cat = policy.at(r.effective).categories[r.category]
            ends_on_performance = any(
                r.category in rule.trigger.categories
                and rule.removal.rectification_working_days is not None
                for rule in policy.all("list_rule")
            )
            assert cat.domain is Domain.JUDICIAL or ends_on_performance
        if e.kind is EventKind.REPAIRED:
            minimum = policy.at(r.effective).categories[r.category].publicity.min
            assert minimum is not None and e.effective >= minimum.after(r.effective)
    for evs in per_record.values():
        if any(e.kind is EventKind.REVOKED for e in evs):
            assert len(evs) == 1
    ids = [e.id for e in pop.events]
    assert len(set(ids)) == len(ids)


def test_attributes_kept_apart(pop: Population) -> None:
    assert "urban" not in {f.name for f in dataclasses.fields(Subject)}
    assert not hasattr(pop.subjects[0], "urban")
    assert set(pop.attributes) == {s.id for s in pop.subjects}
    a = pop.attributes[pop.subjects[0].id]
    assert isinstance(a.urban, bool) and isinstance(a.digital_access, bool)
    assert 0 < sum(pop.attributes[s].urban for s in pop.attributes) < len(pop.attributes)


def test_parquet_round_trip(pop: Population, tmp_path: Path) -> None:
    files = write_population(pop, tmp_path)
    assert {p.name for p in files.values()} >= {
        "subjects.parquet", "links.parquet", "records.parquet", "events.parquet",
        "attributes.parquet", "manifest.json",
    }  # fmt: skip
    back = read_population(tmp_path)
    assert back == pop
    assert back.records[0].amounts == pop.records[0].amounts
    assert all(isinstance(r.recorded_at, datetime) for r in back.records)
    for a, b in zip(back.records, pop.records, strict=True):
        assert {k: str(v) for k, v in a.amounts.items()} == {
            k: str(v) for k, v in b.amounts.items()
        }


def test_manifest_guards_counts(pop: Population, tmp_path: Path) -> None:
    write_population(pop, tmp_path)
    other = generate(load_policy(presets=["national"]), seed=2, persons=5, enterprises=1)
    write_population(other, tmp_path / "other")
    (tmp_path / "other" / "records.parquet").replace(tmp_path / "records.parquet")
    with pytest.raises(ValueError, match="records"):
        read_population(tmp_path)
