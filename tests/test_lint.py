"""Lint profiles: the national presets are lawful under cn-2021; the historical pilots pass
under `historical` and fail under cn-2021 and eu-ai-act with the expected findings."""

from __future__ import annotations

from xinyong.policy.lint import lint
from xinyong.policy.schema import Profile


def _errors(findings, preset=None):  # type: ignore[no-untyped-def]
    return [f for f in findings if f.severity == "error" and (preset is None or f.preset == preset)]


def test_every_preset_passes_its_declared_profile(policy) -> None:  # type: ignore[no-untyped-def]
    errors = _errors(lint(policy))
    assert errors == [], "\n".join(map(str, errors))


def test_historical_profile_only_warns(policy) -> None:  # type: ignore[no-untyped-def]
    findings = lint(policy, Profile.HISTORICAL)
    assert findings and _errors(findings) == []


def test_suining_under_cn_2021_penalties_triggered_by_a_score(policy) -> None:  # type: ignore[no-untyped-def]
    found = _errors(lint(policy, Profile.CN_2021), "suining")
    rules = {f.rule for f in found}
    assert "no-score-penalty" in rules
    score = next(f for f in found if f.rule == "no-score-penalty")
    assert "suining.mass_credit" in score.reason
    assert score.file.startswith("policies/suining/") and score.line
    assert "scores alone" in score.source
    assert "basic-list-only" in rules  # denying business licences is not in the basic list


def test_jiakuang_majia_under_cn_2021_categories_outside_the_catalog(policy) -> None:  # type: ignore[no-untyped-def]
    found = _errors(lint(policy, Profile.CN_2021), "jiakuang-majia")
    outside = [f for f in found if f.rule == "catalog-only"]
    assert any("jiakuang_majia.family.neglect_elderly_relatives" in f.obj for f in outside)
    assert all("National Basic Catalog" in f.source for f in outside)


def test_historical_pilots_fail_under_eu_ai_act(policy) -> None:  # type: ignore[no-untyped-def]
    found = _errors(lint(policy, Profile.EU_AI_ACT))
    for preset, scheme in (("suining", "suining.mass_credit"),
                           ("jiakuang-majia", "jiakuang_majia.points")):
        hits = [f for f in found if f.preset == preset and f.rule == "social-scoring"]
        assert any(scheme in f.obj for f in hits), preset
        assert all("Art. 5(1)(c)" in f.source for f in hits)


def test_national_systems_pass_cn_2021(policy) -> None:  # type: ignore[no-untyped-def]
    national = {"national", "court-debtors", "tax-rating", "samr-lists", "publicity-repair",
                "enterprise-appraisal-2019", "redlists"}
    found = [f for f in _errors(lint(policy, Profile.CN_2021)) if f.preset in national]
    assert found == [], "\n".join(map(str, found))


def test_every_historical_pilot_fails_under_eu_ai_act(policy) -> None:  # type: ignore[no-untyped-def]
    found = _errors(lint(policy, Profile.EU_AI_ACT))
    historical = {p for p, v in policy.presets.items() if v.profile is Profile.HISTORICAL}
    assert historical >= {"suining", "rongcheng", "suqian", "suzhou", "xiamen-fuzhou",
                          "jiakuang-majia", "honest-shanghai", "sesame", "covid-2020"}
    # Art. 5(1)(c) needs treatment or published grades: Rongcheng's and Suqian's grades are
    # neither published (no source says so) nor tied to a modelled measure, and Zhengzhou lists
    # for judicial conduct, not social behaviour
    assert {f.preset for f in found} == historical - {"rongcheng", "suqian", "zhengzhou"}


def test_every_historical_pilot_fails_under_cn_2021(policy) -> None:  # type: ignore[no-untyped-def]
    found = _errors(lint(policy, Profile.CN_2021))
    historical = {p for p, v in policy.presets.items() if v.profile is Profile.HISTORICAL}
    assert {f.preset for f in found} == historical


def test_a_rule_citing_only_later_law_is_flagged(write_policy) -> None:  # type: ignore[no-untyped-def]
    from test_policy_errors import CATEGORY, PRESET
    from xinyong.files import load_policy

    later = CATEGORY.replace("effective_from = 2020-01-01", "effective_from = 2019-01-01")
    policy = load_policy(write_policy({"preset.toml": PRESET, "c.toml": later}))
    found = [f for f in lint(policy, Profile.CN_2021) if f.rule == "basis-in-force"]
    assert len(found) == 1 and "issued later (earliest 2020-01-01)" in found[0].reason
    on_time = load_policy(write_policy({"preset.toml": PRESET, "c.toml": CATEGORY}))
    assert [f for f in lint(on_time, Profile.CN_2021) if f.rule == "basis-in-force"] == []
