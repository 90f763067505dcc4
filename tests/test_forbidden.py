"""Forbidden data is refused by meaning, in Chinese and English (issue 10, item 2).

Every category declares a data class; the sensitive classes of PIPL Art. 28 and the Credit
Reporting Regulation cannot be declared, and the bilingual term list in
policies/national/sensitive_terms.toml screens ids, titles, notes, amounts and indicators.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from xinyong.files import load_policy
from xinyong.policy.loader import PolicyError, build

Make = Callable[[dict[str, str]], Path]

PRESET = """
[preset]
id = "pp"
title = "test"
[[preset.sources]]
id = "src"
title = "a source"

[[law]]
id = "some-law"
title = "A law"
issued = 2020-01-01
rank = "law"

[[agency]]
id = "agency-a"
name = "Agency A"
effective_from = 2020-01-01
legal_basis = ["some-law"]
"""


def category(ident: str = "commercial.annual_report.late",
             title: str = "Fails to file annual report", title_zh: str = "未按时报送年度报告",
             data_class: str | None = "abnormal_operation", extra: str = "") -> str:
    dc = f'data_class = "{data_class}"\n' if data_class is not None else ""
    return f"""
[[category]]
id = "{ident}"
title = "{title}"
title_zh = "{title_zh}"
domain = "commercial"
{dc}severity = "general"
subject_kinds = ["person", "enterprise"]
agencies = ["agency-a"]
effective_from = 2020-01-01
legal_basis = ["some-law"]
{extra}"""


def problems(root: Path) -> list[str]:
    with pytest.raises(PolicyError) as e:
        load_policy(root)
    return [str(p) for p in e.value.problems]


def refused(write_policy: Make, text: str) -> str:
    (msg,) = problems(write_policy({"preset.toml": PRESET, "c.toml": text}))
    return msg


LABEL = {"religion": "religious belief (religion)", "health": "health data (health)",
         "biometric": "biometric information (biometric)", "ethnicity": "ethnicity (ethnicity)"}


# --- the examples, their Chinese forms and paraphrases -------------------------------

@pytest.mark.parametrize(("field", "text", "cls"), [
    # the titles that loaded without complaint
    ("title", "Attends Friday prayers", "religion"),
    ("title", "HIV positive", "health"),
    ("title", "Tested positive for Covid-19", "health"),
    ("title", "人脸识别", "biometric"),
    ("title", "Uyghur minority member", "ethnicity"),
    # their Chinese forms
    ("title_zh", "参加周五聚礼", "religion"),
    ("title_zh", "主麻礼拜", "religion"),
    ("title_zh", "艾滋病病毒阳性", "health"),
    ("title_zh", "新冠核酸检测阳性", "health"),
    ("title_zh", "人脸识别比对", "biometric"),
    ("title_zh", "维吾尔族少数民族成员", "ethnicity"),
    # paraphrases
    ("title", "Goes to the mosque on Fridays", "religion"),
    ("title", "Carrier of the AIDS virus", "health"),
    ("title", "Face scan match", "biometric"),
    ("title", "Belongs to an ethnic minority", "ethnicity"),
    ("title", "Praying in public", "religion"),
    ("title", "Covid-19 positive", "health"),
    ("title_zh", "刷脸比对成功", "biometric"),
    ("title_zh", "少数民族身份", "ethnicity"),
])
def test_a_sensitive_title_is_refused_with_file_key_and_class(write_policy: Make, field: str,
                                                              text: str, cls: str) -> None:
    lawful = {"title": "Fails to file annual report", "title_zh": "未按时报送年度报告"}
    msg = refused(write_policy, category(**{**lawful, field: text}))
    assert msg.startswith("policies/p/c.toml:3: category[commercial.annual_report.late]."
                          f"{field}: {text!r} refers to {LABEL[cls]} (term ")
    assert "sensitive personal information may never be recorded" in msg
    assert f"sensitive_class[{cls}] in policies/national/sensitive_terms.toml" in msg


@pytest.mark.parametrize(("text", "term"), [
    ("Attends Friday prayers", "prayer"),  # a plural of a listed word
    ("Tested positive for Covid-19", "test positive"),  # -ed form inside a listed phrase
    ("Carrier of the AIDS virus", "aids"),  # case-insensitive
    ("新冠核酸检测阳性", "阳性"),  # Chinese by substring: the first listed term found
    ("维吾尔族少数民族成员", "民族"),
])
def test_the_message_names_the_term_matched(write_policy: Make, text: str, term: str) -> None:
    assert f"(term {term!r})" in refused(write_policy, category(title=text))


@pytest.mark.parametrize(("ident", "extra", "key", "cls"), [
    ("social.friday_prayers.attended", "", "id", "religion"),
    ("commercial.annual_report.late", 'amounts = ["fine", "hiv_status"]\n', "amounts[1]",
     "health"),
    ("commercial.annual_report.late", 'note = "Recorded when the firm head is seen at the '
     'mosque"\n', "note", "religion"),
])
def test_ids_amounts_and_notes_are_screened(write_policy: Make, ident: str, extra: str,
                                            key: str, cls: str) -> None:
    msg = refused(write_policy, category(ident=ident, extra=extra))
    assert f"category[{ident}].{key}: " in msg
    assert f"refers to {LABEL[cls]}" in msg


def test_a_scheme_indicator_is_screened(write_policy: Make) -> None:
    scheme = """
[[scheme]]
id = "s.points"
title = "Points"
form = "points"
subject_kinds = ["person"]
owner = "agency-a"
base = 100
grades = ["A", "B"]
bands = [{ grade = "A", min = 90 }, { grade = "B", min = 0 }]
effective_from = 2020-01-01
legal_basis = ["some-law"]

[[scheme.indicator]]
id = "late"
title = "Missed Friday prayers"
categories = ["commercial.annual_report.late"]
points = -5
"""
    (msg,) = problems(write_policy({"preset.toml": PRESET, "c.toml": category(),
                                    "s.toml": scheme}))
    assert "policies/p/s.toml" in msg
    assert "scheme[s.points].indicator[late].title: 'Missed Friday prayers' refers to " \
           "religious belief (religion)" in msg


# --- data classes ---------------------------------------------------------------------------

@pytest.mark.parametrize(("cls", "label"), [
    ("biometric", "biometric information"),
    ("religion", "religious belief"),
    ("specific_identity", "specific identity"),
    ("ethnicity", "ethnicity"),
    ("health", "health data"),
    ("genetic", "genetic information"),
    ("whereabouts", "whereabouts and location tracks"),
    ("financial_account", "financial accounts"),
    ("minor_under_14", "personal information of minors under 14"),
    ("political_opinion", "political opinion"),
])
def test_a_sensitive_data_class_cannot_be_declared(write_policy: Make, cls: str,
                                                   label: str) -> None:
    msg = refused(write_policy, category(data_class=cls))
    assert msg.startswith("policies/p/c.toml:3: category[commercial.annual_report.late]"
                          f".data_class: {cls!r} is {label}, sensitive personal information")
    assert "remove the category" in msg


def test_a_missing_data_class_is_refused_with_the_choices(write_policy: Make) -> None:
    msg = refused(write_policy, category(data_class=None))
    assert "policies/p/c.toml:3: category[commercial.annual_report.late].data_class: " \
           "Field required: declare what the data is" in msg
    assert "abnormal_operation" in msg and "historical" in msg and "penalty" in msg
    assert "biometric" not in msg  # the sensitive classes are not offered


def test_an_unknown_data_class_is_refused(write_policy: Make) -> None:
    msg = refused(write_policy, category(data_class="gossip"))
    assert "category[commercial.annual_report.late].data_class: Input should be " \
           "'registration', 'judicial'" in msg


def test_a_national_catalog_category_needs_a_catalog_class(write_policy: Make) -> None:
    msg = refused(write_policy, category(data_class="historical",
                                         extra="national_catalog = true\n"))
    assert "category[commercial.annual_report.late].data_class: 'historical' is outside the " \
           "National Basic Catalog, but national_catalog = true" in msg


# --- lawful categories ----------------------------------------------------------------------

@pytest.mark.parametrize(("title", "title_zh"), [
    ("Fails to file annual report", "未按时报送年度报告"),
    ("Sells alcohol to minors", "向未成年人售酒"),  # a firm's conduct; "minor" is no term
    ("Refuses a legal aid assignment", "拒绝法律援助指派"),  # "aid" is not "AIDS"
    ("Honoured by a Party committee", "受党委表彰"),
    ("Penalised under public health rules", "违反公共卫生规定受到处罚"),  # "public health" allowed
    ("Sold fake medical devices", "销售假冒医疗器械"),  # allowed phrases in both languages
    ("Market-regulation penalty: minor", "市场监管行政处罚：轻微"),
])
def test_a_lawful_category_is_not_refused(write_policy: Make, title: str, title_zh: str) -> None:
    root = write_policy({"preset.toml": PRESET,
                         "c.toml": category(title=title, title_zh=title_zh)})
    cat = load_policy(root).versions["category"]["commercial.annual_report.late"][0]
    assert (cat.title, cat.data_class) == (title, "abnormal_operation")


def test_an_allowed_phrase_excuses_only_itself(write_policy: Make) -> None:
    ok = "Falsely advertised a product as preventing Covid-19 infection"
    root = write_policy({"preset.toml": PRESET, "c.toml": category(title=ok)})
    assert load_policy(root).versions["category"]
    msg = refused(write_policy, category(title="Covid-19 infection while preventing Covid-19 "
                                               "infection"))
    assert "(term 'infection')" in msg


# --- the term list --------------------------------------------------------------------------

def test_a_policy_without_a_term_list_does_not_build() -> None:
    files = {"policies/p/preset.toml": PRESET, "policies/p/c.toml": category()}
    with pytest.raises(PolicyError) as e:
        build(files)
    (p,) = e.value.problems
    assert p.key == "sensitive_class"
    assert p.message.startswith(
        "no term list for biometric, ethnicity, financial_account, genetic, health, "
        "minor_under_14, political_opinion, religion, specific_identity, whereabouts")


def test_a_small_policy_folder_is_screened_with_the_shipped_list(write_policy: Make) -> None:
    # the IO side adds policies/national/sensitive_terms.toml when the folder has none
    root = write_policy({"preset.toml": PRESET, "c.toml": category(title="HIV positive")})
    assert sorted(p.name for p in (root / "p").iterdir()) == ["c.toml", "preset.toml"]
    (msg,) = problems(root)
    assert "refers to health data (health) (term 'hiv')" in msg


def test_a_term_list_missing_a_class_is_refused(write_policy: Make) -> None:
    terms = """
[[sensitive_class]]
id = "religion"
title = "Religious belief"
title_zh = "宗教信仰"
sources = ["PIPL Art. 28"]
en = ["prayer"]
zh = ["礼拜"]
"""
    found = problems(write_policy({"preset.toml": PRESET, "c.toml": category(),
                                   "terms.toml": terms}))
    assert found == ["policies/p/terms.toml: sensitive_class: no term list for biometric, "
                     "ethnicity, financial_account, genetic, health, minor_under_14, "
                     "political_opinion, specific_identity, whereabouts: every sensitive class "
                     "needs its [[sensitive_class]] table (see "
                     "policies/national/sensitive_terms.toml)"]


def test_terms_are_kept_only_for_sensitive_classes(write_policy: Make) -> None:
    terms = """
[[sensitive_class]]
id = "penalty"
title = "Penalty"
title_zh = "处罚"
sources = ["none"]
en = ["fine"]
zh = ["罚款"]
"""
    found = problems(write_policy({"preset.toml": PRESET, "c.toml": category(),
                                   "terms.toml": terms}))
    assert any("sensitive_class[penalty]" in m and "'penalty' is not a sensitive class" in m
               for m in found)


def test_the_shipped_list_cites_its_sources() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[1]
    data = tomllib.loads((root / "policies" / "national" / "sensitive_terms.toml")
                         .read_text(encoding="utf-8"))
    for c in data["sensitive_class"]:
        assert c["sources"], c["id"]
        assert all("http" in s and "20" in s for s in c["sources"]), c["id"]
        assert not any("FACTS" in s for s in c["sources"]), c["id"]
