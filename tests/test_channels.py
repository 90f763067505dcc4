"""The shared platform's collection channels (全国信用信息共享平台的归集渠道): every record
carries the channel it came through, within the channels its feed manifest declares; the new
feeds (random inspections, tax collection monitoring, the Jiakuang Majia recorder's book)
ingest the sample files in examples/; records written before channels were recorded read
"unrecorded" and keep their hashes; explain names the channel."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select

from builders import Clock, firm, record
from feedfiles import EMPTY, sample_rows, state, uscc, write_csv
from xinyong.cli.render import render
from xinyong.engine.evaluate import evaluate
from xinyong.engine.explain import explain
from xinyong.ledger import tables as t
from xinyong.ledger.ingest import Ingest, IngestError, IngestReport
from xinyong.ledger.payloads import payload_of
from xinyong.ledger.store import MIGRATIONS, Batch, Conflict, Ledger
from xinyong.model import Channel, Record
from xinyong.policy.model import Policy

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NOW = datetime(2024, 6, 1, 9)

# feed sat.collection-monitoring (policies/feeds/feeds.toml), in its own column order
MONITORING = ("记录编号", "纳税人识别号", "纳税人名称", "事项", "采集渠道", "所属期止",
              "采集日期", "通知书文号", "依据", "欠缴税额")


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    led = Ledger.open(ledger_url, clock=Clock(NOW))
    yield led
    led.dispose()


def ingest(ledger: Ledger, policy: Policy, path: Path, agency: str,
           feed: str | None = None) -> IngestReport:
    return Ingest(ledger, policy, agency, path, feed).run()


def channels(ledger: Ledger) -> dict[str, str]:
    with ledger.engine.connect() as c:
        return {r.id: r.channel for r in c.execute(select(t.records.c.id, t.records.c.channel))}


def monitoring_row(rid: str, channel: str, category: str = "tax.late_payment",
                   owed: str = "") -> dict[str, str]:
    return dict(zip(MONITORING, (rid, uscc(30000001, "440305"), "深圳某某电子有限公司",
                                 category, channel, "2024-03-31", "2024-04-20",
                                 f"深税通〔2024〕{rid}号", "", owed), strict=True))


# --- every record carries its channel -------------------------------------------------------


def test_every_ingested_record_carries_its_feeds_channel(policy: Policy, ledger: Ledger,
                                                         tmp_path: Path) -> None:
    # the courts' feed declares one channel, judicial: its rows name none and all take it
    ingest(ledger, policy, write_csv(tmp_path / "courts.csv", sample_rows()), "courts")
    assert channels(ledger) == {"R-1": "judicial", "R-2": "judicial", "R-3": "judicial"}
    subject = ledger.subjects(["91440300123456788M"])["91440300123456788M"]
    case = ledger.neighbourhood(subject)
    assert {r.id: r.channel for r in case.records} == {"R-1": Channel.JUDICIAL,
                                                         "R-2": Channel.JUDICIAL}


def test_each_row_of_a_multi_channel_feed_keeps_its_own(policy: Policy, ledger: Ledger,
                                                        tmp_path: Path) -> None:
    rows = [monitoring_row("M1", "monitoring", owed="800"),
            monitoring_row("M2", "self_declared", "tax.filing.zero_income")]
    report = ingest(ledger, policy, write_csv(tmp_path / "m.csv", rows), "sat")
    assert report.feed == "sat.collection-monitoring" and report.written == 2
    assert channels(ledger) == {"M1": "monitoring", "M2": "self_declared"}


def test_a_row_through_an_undeclared_channel_is_refused_and_nothing_is_written(
        policy: Policy, ledger: Ledger, tmp_path: Path) -> None:
    # the monitoring feed declares monitoring and self_declared; lines 2 and 6 are good
    rows = [monitoring_row("M1", "monitoring"),
            monitoring_row("M2", "inspection"),     # a channel, but not this feed's
            monitoring_row("M3", ""),               # several channels: the row must say
            monitoring_row("M4", "tip-off"),        # no such channel
            monitoring_row("M5", "unrecorded"),     # only for records older than channels
            monitoring_row("M6", "self_declared", "tax.filing.zero_income")]
    path = write_csv(tmp_path / "m.csv", rows)
    with pytest.raises(IngestError) as e:
        ingest(ledger, policy, path, "sat")
    got = [(r.line, r.record, r.field, r.reason) for r in e.value.errors]
    declared = "monitoring, self_declared"
    assert got == [
        (3, "M2", "采集渠道", "feed sat.collection-monitoring does not declare channel "
         f"'inspection': its rows come through {declared}"),
        (4, "M3", "采集渠道", f"the channel is required: one of {declared}"),
        (5, "M4", "采集渠道", f"'tip-off' is not a channel; feed sat.collection-monitoring "
         f"declares {declared}"),
        (6, "M5", "采集渠道", "feed sat.collection-monitoring does not declare channel "
         f"'unrecorded': its rows come through {declared}"),
    ]
    assert state(ledger) == EMPTY


def test_a_feed_manifest_declares_its_channels(
        write_policy: Any) -> None:
    from xinyong.files import PolicyError, load_policy

    feed = ('[[feed]]\nid = "ff"\nagency = "aa"\ncategories = ["cc"]\n'
            'columns = { category = "c", effective = "e", document_no = "d", identifier = "i" }\n'
            'effective_from = 2020-01-01\nlegal_basis = ["ll"]\n')
    several = feed.replace('agency = "aa"',
                           'agency = "aa"\nchannels = ["inspection", "monitoring"]')
    old = feed.replace('agency = "aa"', 'agency = "aa"\nchannels = ["unrecorded"]')
    for text, expected in (
            (feed, r"feeds.toml:2: feed\[ff\].channels: Field required"),
            (several, "with several channels \\(inspection, monitoring\\) the rows must say "
             "theirs: map 'channel' in columns"),
            (old, "'unrecorded' marks records from before channels were recorded")):
        root = write_policy({"preset.toml": '[preset]\nid = "pp"\ntitle = "p"\n'
                             '[[preset.sources]]\nid = "ss"\ntitle = "s"\n',
                             "feeds.toml": text})
        with pytest.raises(PolicyError, match=expected):
            load_policy(root)


# --- the new feeds ingest the sample files in examples/ ------------------------------------


@pytest.mark.parametrize(("name", "agency", "feed", "expected"), [
    ("samr-inspections.csv", "samr", "samr.random-inspections",
     {"SC-2024-0001": ("commercial.address.unreachable", "inspection"),
      "SC-2024-0002": ("commercial.disclosure.false", "inspection")}),
    ("sat-monitoring.csv", "sat", "sat.collection-monitoring",
     {"M-2024-001": ("tax.late_payment", "monitoring"),
      "M-2024-002": ("tax.late_filing", "monitoring"),
      "M-2024-003": ("tax.filing.zero_income", "self_declared")}),
    ("jiakuang-majia-deeds.csv", "jiakuang_majia.recorder", "jiakuang_majia.deeds-book",
     {"JM-0001": ("jiakuang_majia.community.basketball_hoop_repair", "recorder"),
      "JM-0002": ("jiakuang_majia.service.army_service_tibet", "recorder"),
      "JM-0003": ("jiakuang_majia.charity.donation", "recorder")}),
])
def test_each_new_feed_ingests_its_sample_file(policy: Policy, ledger: Ledger, name: str,
                                               agency: str, feed: str,
                                               expected: dict[str, tuple[str, str]]) -> None:
    # samr and sat have two feeds each: the file's columns pick the one it fits
    report = ingest(ledger, policy, EXAMPLES / name, agency)
    assert (report.feed, report.written, report.queued_for_review) == (feed, len(expected), 0)
    with ledger.engine.connect() as c:
        got = {r.id: (r.category, r.channel) for r in c.execute(select(t.records))}
    assert got == expected
    assert ledger.verify().ok


def test_the_samples_amounts_are_kept(policy: Policy, ledger: Ledger) -> None:
    ingest(ledger, policy, EXAMPLES / "sat-monitoring.csv", "sat")
    ingest(ledger, policy, EXAMPLES / "jiakuang-majia-deeds.csv", "jiakuang_majia.recorder")
    with ledger.engine.connect() as c:
        got = {r.id: r.amounts for r in c.execute(select(t.records))}
    assert got == {"M-2024-001": {"tax_late": "12500"}, "M-2024-002": {},
                   "M-2024-003": {}, "JM-0001": {"hours": "8"}, "JM-0002": {},
                   "JM-0003": {"donation_yuan": "3000"}}


def test_an_agency_with_several_feeds_takes_the_named_one_or_says_which_exist(
        policy: Policy, ledger: Ledger, tmp_path: Path) -> None:
    # the courts' columns fit neither of samr's feeds: refused, both named, nothing written
    path = write_csv(tmp_path / "courts.csv", sample_rows())
    with pytest.raises(IngestError, match="agency 'samr' has several feeds "
                       r"\(samr.enterprise-lists, samr.random-inspections\); the columns fit "
                       "none of them: name one"):
        ingest(ledger, policy, path, "samr")
    with pytest.raises(IngestError, match=r"agency 'samr' has no feed 'samr\.nope' in force"):
        ingest(ledger, policy, EXAMPLES / "samr-inspections.csv", "samr", "samr.nope")
    # named, the inspection file under the lists feed is refused by its columns
    with pytest.raises(IngestError, match="the columns do not match the manifest") as e:
        ingest(ledger, policy, EXAMPLES / "samr-inspections.csv", "samr",
               "samr.enterprise-lists")
    assert "column not in feed samr.enterprise-lists's manifest; map it or list it under " \
        "'ignore'" in {r.reason for r in e.value.errors}
    assert state(ledger) == EMPTY


# --- records from before channels: migration 0006 -----------------------------------------


def _canonical(row: dict[str, Any]) -> str:
    """The ledger payload as docs/ledger.md defines it: sorted keys, no spaces, ISO dates."""
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _leaf(payload: str) -> str:
    return hashlib.sha256(b"\x00" + payload.encode()).hexdigest()


def _store_before_channels(url: str) -> None:
    """A store at revision 0005, written as the code before channels wrote it: one subject
    and one record, each with its ledger entry over the payload of that time."""
    from alembic import command
    from alembic.config import Config

    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    at = datetime(2024, 1, 10, 9)
    subject = {"id": "E1", "kind": "enterprise", "name": "某某有限公司", "region": "110101",
               "registered": date(2010, 5, 1), "opt_ins": [], "recorded_at": at}
    rec = {"id": "OLD", "subject": "E1", "category": "judicial.debtor.refuses_to_perform",
           "agency": "courts", "act_date": date(2024, 1, 2), "effective": date(2024, 1, 10),
           "document_no": "(2024)京01执1号", "legal_basis": "spc-2013-17",
           "amounts": {"amount_owed": "150000"}, "recorded_at": at, "ingest": None}
    payloads = [
        _canonical({**subject, "registered": "2010-05-01", "recorded_at": at.isoformat()}),
        _canonical({**rec, "act_date": "2024-01-02", "effective": "2024-01-10",
                    "recorded_at": at.isoformat()}),
    ]
    chain = "0" * 64
    entries = []
    for seq, (kind, ref, p) in enumerate((("subject", "E1", payloads[0]),
                                          ("record", "OLD", payloads[1])), 1):
        leaf = _leaf(p)
        chain = hashlib.sha256(bytes.fromhex(chain) + bytes.fromhex(leaf)).hexdigest()
        entries.append({"seq": seq, "kind": kind, "ref": ref, "leaf_hash": leaf,
                        "chain_hash": chain, "recorded_at": at})
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.execute(insert(t.subjects), [subject])
        conn.execute(insert(t.records), [rec])  # no channel column yet
        conn.execute(insert(t.ledger), entries)
    engine.dispose()


def test_a_store_from_before_channels_still_verifies_after_the_migration(
        ledger_url: str) -> None:
    _store_before_channels(ledger_url)
    led = Ledger.open(ledger_url, clock=Clock(NOW))  # upgrades to 0006
    try:
        report = led.verify()
        assert report.ok and report.entries == 2, report.problem
        old = next(r for r in led.neighbourhood(led.subjects(["E1"])["E1"]).records)
        assert old.channel is Channel.UNRECORDED
        # a record written now hashes its channel, and the old one stays valid beside it
        led.write(Batch(records=[replace(record("NEW", "E1", "commercial.disclosure.false",
                                                date(2024, 3, 12), agency="samr"),
                                         channel=Channel.INSPECTION)]))
        report = led.verify()
        assert report.ok and report.entries == 3, report.problem
        with led.engine.connect() as c:
            new = dict(c.execute(select(t.records).where(t.records.c.id == "NEW")).one()._mapping)
        assert '"channel":"inspection"' in payload_of("record", new)
    finally:
        led.dispose()


def test_an_old_record_resubmitted_with_its_channel_is_already_recorded(
        ledger_url: str) -> None:
    # the same fact, now naming its channel: nothing new is said, nothing is rewritten
    _store_before_channels(ledger_url)
    led = Ledger.open(ledger_url, clock=Clock(NOW))
    try:
        again = Record("OLD", "E1", "judicial.debtor.refuses_to_perform", "courts",
                       date(2024, 1, 2), date(2024, 1, 10), "(2024)京01执1号", "spc-2013-17",
                       NOW, {"amount_owed": Decimal("150000")}, Channel.JUDICIAL)
        result = led.write(Batch(records=[again]))
        assert (result.written["record"], result.unchanged["record"]) == (0, 1)
        assert channels(led) == {"OLD": "unrecorded"}
        # a different fact under the same id is still a conflict
        with pytest.raises(Conflict, match="record OLD is already recorded with different"):
            led.write(Batch(records=[replace(again, document_no="(2024)京01执2号")]))
        assert led.verify().ok
    finally:
        led.dispose()


def test_the_payload_leaves_out_only_an_unrecorded_channel() -> None:
    row = {"id": "R", "subject": "S", "category": "c", "agency": "a",
           "act_date": date(2024, 1, 2), "effective": date(2024, 1, 3), "document_no": "D",
           "legal_basis": "l", "amounts": {}, "recorded_at": datetime(2024, 1, 3, 9),
           "ingest": None}
    before = ('{"act_date":"2024-01-02","agency":"a","amounts":{},"category":"c",'
              '"document_no":"D","effective":"2024-01-03","id":"R","ingest":null,'
              '"legal_basis":"l","recorded_at":"2024-01-03T09:00:00","subject":"S"}')
    assert payload_of("record", {**row, "channel": "unrecorded"}) == before
    assert payload_of("record", {**row, "channel": "inspection"}) == before.replace(
        '"category":"c",', '"category":"c","channel":"inspection",')


def test_changing_a_channel_breaks_verify_old_or_new(ledger_url: str) -> None:
    from sqlalchemy import text

    _store_before_channels(ledger_url)
    led = Ledger.open(ledger_url, clock=Clock(NOW))
    try:
        led.write(Batch(records=[record("NEW", "E1", "judicial.debtor.evades_enforcement",
                                        date(2024, 3, 12))]))
        for rid, forged in (("OLD", "inspection"), ("NEW", "unrecorded")):
            with led.engine.begin() as c:
                if led.engine.dialect.name == "sqlite":
                    c.execute(text("DROP TRIGGER IF EXISTS records_no_update"))
                else:
                    c.execute(text("DROP TRIGGER IF EXISTS records_append_only ON records"))
                before = c.execute(select(t.records.c.channel)
                                   .where(t.records.c.id == rid)).scalar_one()
                c.execute(text(f"UPDATE records SET channel = '{forged}' WHERE id = '{rid}'"))
            report = led.verify()
            assert not report.ok and f"record {rid}" in (report.problem or "")
            with led.engine.begin() as c:
                c.execute(text(f"UPDATE records SET channel = '{before}' WHERE id = '{rid}'"))
            assert led.verify().ok
    finally:
        led.dispose()


# --- explain names the channel -------------------------------------------------------------


def test_explain_names_the_channel_a_record_came_through(policy: Policy) -> None:
    e1 = firm("E1")
    found = replace(record("SC1", "E1", "commercial.address.unreachable", date(2024, 3, 12),
                           agency="samr"), channel=Channel.INSPECTION)
    data = explain(policy, evaluate(policy, e1, [found], [], [], date(2024, 6, 1)))
    entry = next(e for e in data["list_entries"] if e["list"] == "samr.abnormal_operations")
    assert [(r["id"], r["channel"]) for r in entry["records"]] == [("SC1", "inspection")]
    assert "(samr via inspection, effective 2024-03-12)" in render(data)


def test_explain_says_when_a_channel_was_never_recorded(policy: Policy) -> None:
    old = replace(record("R1", "E1", "judicial.debtor.refuses_to_perform", date(2024, 1, 10)),
                  channel=Channel.UNRECORDED)
    text = render(explain(policy, evaluate(policy, firm("E1"), [old], [], [],
                                           date(2024, 6, 1))))
    assert "(courts (channel not recorded), effective 2024-01-10)" in text



def test_the_service_takes_a_records_channel_under_the_named_feed(
        policy: Policy, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from xinyong.api.app import create_app
    from xinyong.service import add_user

    led = Ledger.open(f"sqlite:///{tmp_path}/ledger.db", clock=Clock(NOW))
    try:
        auth = {"Authorization": f"Bearer {add_user(led, 'sat-1', 'submitter', agency='sat')}"}
        client = TestClient(create_app(led, policy))
        rec = {"record_id": "M1", "identifier": uscc(30000001, "440305"),
               "subject_name": "深圳某某电子有限公司", "category": "tax.late_payment",
               "effective": "2024-04-20", "document_no": "N1", "channel": "monitoring"}
        # sat has two feeds: unnamed, refused with both named
        r = client.post("/records", json=rec, headers=auth)
        assert r.status_code == 422 and "sat.tax-credit, sat.collection-monitoring" in \
            r.json()["detail"]
        r = client.post("/records?feed=sat.collection-monitoring",
                        json={**rec, "record_id": "M2", "channel": "inspection"}, headers=auth)
        assert r.status_code == 422 and r.json()["errors"] == [{
            "pointer": "/body/records/0/channel",
            "detail": "feed sat.collection-monitoring does not declare channel 'inspection': "
                      "its rows come through monitoring, self_declared"}]
        r = client.post("/records?feed=sat.collection-monitoring", json=rec, headers=auth)
        assert r.status_code == 200 and r.json()["written"] == 1
        assert channels(led) == {"M1": "monitoring"}
    finally:
        led.dispose()


def test_the_simulator_gives_every_record_its_channel_and_parquet_keeps_it(
        policy: Policy, tmp_path: Path) -> None:
    from xinyong.sim.parquet import read_population, write_population
    from xinyong.sim.population import generate

    pop = generate(policy, seed=3, persons=600, enterprises=150, public_bodies=5,
                   social_orgs=5, start=date(2019, 1, 1), end=date(2023, 12, 31))
    by_agency: dict[str, set[Channel]] = {}
    for r in pop.records:
        by_agency.setdefault(r.agency, set()).add(r.channel)
    # the courts' one feed is judicial; the village recorder's book is the recorder's;
    # Sesame's own data has no feed and is a private scorer's monitoring
    assert by_agency["courts"] == {Channel.JUDICIAL}
    assert by_agency["jiakuang_majia.recorder"] == {Channel.RECORDER}
    assert by_agency["sesame.operator"] == {Channel.MONITORING}
    assert Channel.UNRECORDED not in {c for cs in by_agency.values() for c in cs}
    write_population(pop, tmp_path / "pop")
    back = read_population(tmp_path / "pop")
    assert [r.channel for r in back.records] == [r.channel for r in pop.records]
