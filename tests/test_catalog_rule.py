"""The December 2021 catalog restriction as a dated policy version (issue 10, item 5).

From 16 Dec 2021 (the day the National Basic Catalog of Public Credit Information, 2021
edition, was published) a scheme that claims cn-2021 stops counting behaviour outside the
catalog; a scheme that does not claim the profile is unaffected. Scores are worked by hand from
the preset values (Rongcheng: base 1000, +30 per heroic act, bands AA >= 1030, A >= 960).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from builders import person, record
from xinyong.cli.render import render
from xinyong.engine import evaluate
from xinyong.engine.explain import explain
from xinyong.files import load_policy
from xinyong.model import Subject, SubjectKind
from xinyong.policy.loader import PolicyError

RULE_DAY = date(2021, 12, 16)
EVE = date(2021, 12, 15)


def test_rongcheng_stops_counting_heroic_acts_from_the_catalog_rule(policy) -> None:  # type: ignore[no-untyped-def]
    heroic = [record("H1", "P1", "rongcheng.social.heroic_act", date(2021, 6, 1),
                     agency="rongcheng.credit-office")]
    subject = person("P1", region="371082")
    before = evaluate(policy, subject, heroic, [], [], EVE).ratings["rongcheng.points"]
    assert (before.score, before.grade) == (Decimal(1030), "AA")  # 1000 + 30
    on = evaluate(policy, subject, heroic, [], [], RULE_DAY)
    r = on.ratings["rongcheng.points"]
    assert (r.score, r.grade) == (Decimal(1000), "A")  # the heroic act no longer counts
    assert "heroic_act" not in [c.indicator for c in r.contributions]
    text = render(explain(policy, on))
    assert ("indicator heroic_act no longer counts rongcheng.social.heroic_act since 2021-12-16: "
            "outside the National Basic Catalog, and the scheme claims cn-2021") in text
    assert "basis: National Basic Catalog of Public Credit Information (2021 edition)" in text
    assert "no longer counts" not in render(explain(
        policy, evaluate(policy, subject, heroic, [], [], EVE)))


def test_a_pilot_that_does_not_claim_cn_2021_keeps_counting(policy) -> None:  # type: ignore[no-untyped-def]
    # Suqian claims no profile of its own (its preset is historical): volunteer service +5
    # still counts after the rule, while Rongcheng's, on the same day, does not
    suqian = [record("V1", "P1", "suqian.social.volunteer_service", date(2021, 6, 1),
                     agency="suqian.credit-office")]
    suqian_person = Subject("P1", SubjectKind.PERSON, "张三", "321302")  # Sucheng, Suqian
    s = evaluate(policy, suqian_person, suqian, [], [], RULE_DAY)
    assert s.ratings["suqian.xichu_points"].score == Decimal(1005)  # 1000 + 5
    rongcheng = [record("V2", "P2", "rongcheng.social.volunteer_service", date(2021, 6, 1),
                        agency="rongcheng.credit-office")]
    rc = evaluate(policy, person("P2", region="371082"), rongcheng, [], [], RULE_DAY)
    assert rc.ratings["rongcheng.points"].score == Decimal(1000)  # +5 withdrawn


SMALL = """
[preset]
id = "pp"
title = "test"
profile = "historical"
[[preset.sources]]
id = "src"
title = "a source"

[[law]]
id = "some-law"
title = "A law"
issued = 2015-01-01
rank = "law"

[[agency]]
id = "agency-a"
name = "Agency A"
effective_from = 2015-01-01
legal_basis = ["some-law"]

[[calendar]]
id = "cn"
title = "Weekdays"

[[category]]
id = "pp.traffic.ticket"
title = "Traffic ticket"
domain = "government"
data_class = "penalty"
severity = "minor"
subject_kinds = ["person"]
agencies = ["agency-a"]
national_catalog = true
effective_from = 2015-01-01
legal_basis = ["some-law"]

[[category]]
id = "pp.social.volunteer"
title = "Volunteer service"
domain = "social"
data_class = "historical"
severity = "minor"
subject_kinds = ["person"]
agencies = ["agency-a"]
effective_from = 2015-01-01
legal_basis = ["some-law"]

[[profile_rule]]
id = "pp.catalog-only"
title = "Catalog only"
profile = "cn-2021"
count_only = "national_catalog"
effective_from = 2021-12-16
legal_basis = ["some-law"]
"""

TWO_SCHEMES = """
[[scheme]]
id = "pp.claiming"
title = "Claims cn-2021"
form = "points"
subject_kinds = ["person"]
owner = "agency-a"
base = 100
grades = ["A", "B"]
bands = [{ grade = "A", min = 105 }, { grade = "B", min = 0 }]
effective_from = 2015-01-01
legal_basis = ["some-law"]
profile = "cn-2021"

[[scheme.indicator]]
id = "volunteer"
categories = ["pp.social.volunteer"]
points = 10

[[scheme.indicator]]
id = "ticket"
categories = ["pp.traffic.ticket"]
points = -5

[[scheme]]
id = "pp.other"
title = "Claims nothing (its preset is historical)"
form = "points"
subject_kinds = ["person"]
owner = "agency-a"
base = 100
grades = ["A", "B"]
bands = [{ grade = "A", min = 105 }, { grade = "B", min = 0 }]
effective_from = 2015-01-01
legal_basis = ["some-law"]

[[scheme.indicator]]
id = "volunteer"
categories = ["pp.social.volunteer"]
points = 10

[[scheme.indicator]]
id = "ticket"
categories = ["pp.traffic.ticket"]
points = -5

[[list_rule]]
id = "pp.model"
title = "Model citizens"
colour = "red"
authority = "agency-a"
subject_kinds = ["person"]
trigger = { scheme = "pp.claiming", grades = ["A"] }
effective_from = 2015-01-01
legal_basis = ["some-law"]
"""

RECORDS = [record("V1", "P1", "pp.social.volunteer", date(2021, 6, 1), agency="agency-a"),
           record("T1", "P1", "pp.traffic.ticket", date(2021, 6, 1), agency="agency-a")]


def _scores(policy, day):  # type: ignore[no-untyped-def]
    st = evaluate(policy, person("P1"), RECORDS, [], [], day)
    return {k: (r.score, r.grade) for k, r in st.ratings.items()}


def test_the_claiming_scheme_stops_counting_on_the_rule_day_the_other_not(write_policy) -> None:  # type: ignore[no-untyped-def]
    policy = load_policy(write_policy({"preset.toml": SMALL + TWO_SCHEMES}))
    # the day before: 100 + 10 − 5 = 105 → A under both
    assert _scores(policy, EVE) == {"pp.claiming": (Decimal(105), "A"),
                                    "pp.other": (Decimal(105), "A")}
    # on and after the rule's day: the claiming scheme counts the ticket only, 100 − 5 = 95 → B
    for day in (RULE_DAY, date(2022, 6, 1)):
        assert _scores(policy, day) == {"pp.claiming": (Decimal(95), "B"),
                                        "pp.other": (Decimal(105), "A")}


def test_a_grade_list_on_a_claiming_scheme_ends_on_the_rule_day(write_policy) -> None:  # type: ignore[no-untyped-def]
    # the A that put P1 on the red list rested on volunteer service: the run of A ends when
    # the version without it starts, not on the next record or the day asked
    policy = load_policy(write_policy({"preset.toml": SMALL + TWO_SCHEMES}))
    st = evaluate(policy, person("P1"), RECORDS, [], [], date(2022, 6, 1))
    model = [e for e in st.entries if e.list == "pp.model"]
    assert [(e.start, e.end) for e in model] == [(date(2021, 6, 1), RULE_DAY)]


MIXED = """
[[category]]
id = "pp.social.misconduct"
title = "Uncivil conduct"
domain = "social"
data_class = "historical"
severity = "minor"
subject_kinds = ["person"]
agencies = ["agency-a"]
effective_from = 2015-01-01
legal_basis = ["some-law"]

[[scheme]]
id = "pp.mixed"
title = "Mixed"
form = "deduction"
subject_kinds = ["person"]
owner = "agency-a"
base = 100
grades = ["A", "B", "C"]
bands = [{ grade = "A", min = 95 }, { grade = "B", min = 80 }, { grade = "C", min = 0 }]
effective_from = 2015-01-01
legal_basis = ["some-law"]

[[scheme.indicator]]
id = "conduct"
categories = ["pp.traffic.ticket", "pp.social.misconduct"]
points = -5

[[scheme.override]]
id = "misconduct_cap"
when = { categories = ["pp.social.misconduct"] }
at_most = "C"
legal_basis = ["some-law"]
"""


def test_a_preset_claim_keeps_catalog_categories_withdraws_the_rest_and_the_end_restores(
        write_policy) -> None:  # type: ignore[no-untyped-def]
    # the preset claims cn-2021 (the scheme inherits it); the rule is in force for one year only
    text = (SMALL.replace('profile = "historical"', 'profile = "cn-2021"')
            .replace("effective_from = 2021-12-16\n",
                     "effective_from = 2021-12-16\neffective_to = 2022-12-16\n") + MIXED)
    assert text.count("effective_to = 2022-12-16") == 1
    policy = load_policy(write_policy({"preset.toml": text}))
    recs = [record("T1", "P1", "pp.traffic.ticket", date(2021, 6, 1), agency="agency-a"),
            record("M1", "P1", "pp.social.misconduct", date(2021, 6, 1), agency="agency-a")]

    def rating(day):  # type: ignore[no-untyped-def]
        return evaluate(policy, person("P1"), recs, [], [], day).ratings["pp.mixed"]

    before = rating(EVE)  # 100 − 2 × 5 = 90 → band B, capped at C by the misconduct
    assert (before.score, before.band_grade, before.grade) == (Decimal(90), "B", "C")
    during = rating(RULE_DAY)  # the ticket only: 95 → A; the cap read misconduct: withdrawn
    assert (during.score, during.grade, during.adjustments) == (Decimal(95), "A", ())
    assert [c.records for c in during.contributions] == [("T1",)]
    version = policy.at(RULE_DAY).schemes["pp.mixed"]
    assert [(w.part, w.id, w.categories, w.since, w.rule) for w in version.withdrawn] == [
        ("indicator", "conduct", ("pp.social.misconduct",), RULE_DAY, "pp.catalog-only"),
        ("override", "misconduct_cap", ("pp.social.misconduct",), RULE_DAY, "pp.catalog-only")]
    after = rating(date(2022, 12, 16))  # the rule's window has ended: as before it
    assert (after.score, after.grade) == (Decimal(90), "C")


def test_withdrawn_is_derived_and_cannot_be_written(write_policy) -> None:  # type: ignore[no-untyped-def]
    written = TWO_SCHEMES.replace('profile = "cn-2021"\n', 'profile = "cn-2021"\nwithdrawn = [{ '
                                  'part = "indicator", id = "volunteer", categories = '
                                  '["pp.social.volunteer"], since = 2021-12-16, rule = "x1", '
                                  'reason = "r", legal_basis = ["some-law"] }]\n', 1)
    assert written != TWO_SCHEMES
    with pytest.raises(PolicyError) as e:
        load_policy(write_policy({"preset.toml": SMALL + written}))
    line = (SMALL + written).splitlines().index('id = "pp.claiming"') + 1
    assert [str(p) for p in e.value.problems] == [
        f"policies/p/preset.toml:{line}: scheme[pp.claiming].withdrawn: is set by the loader "
        "from [[profile_rule]] tables; remove it (claim a profile with `profile` instead)"]
