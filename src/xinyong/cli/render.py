"""Text rendering of the explanation data (``xinyong.engine.explain``): what
``xinyong explain``, ``evaluate`` and ``decide`` print. The engine gives the data; how it
reads on a terminal is the command line's."""

from __future__ import annotations

from typing import Any


def render(data: dict[str, Any]) -> str:
    """Plain-text rendering of :func:`xinyong.engine.explain.explain`'s data."""
    s = data["subject"]
    out = [
        f"{s['name']} ({s['id']}, {s['kind']}, region {s['region']}) "
        f"as of {data['as_of']}  [policy {data['policy_version']}]",
        "  identifiers: " + ", ".join(s["identifiers"]),
    ]
    if data.get("decision"):
        d = data["decision"]
        out.append(f"\nDecision on {d['action']}: {d['effect'].upper()}")
        out.extend(render_reasons(d["reasons"]))
    out.append("\nRatings:" if data["ratings"] else "\nRatings: none apply")
    for r in data["ratings"]:
        out.append(f"  {r['title']} [{r['scheme']}]: score {r['score']}, grade {r['grade']}"
                   + (f" (band {r['band_grade']})" if r["band_grade"] != r["grade"] else "")
                   + (" [disputed]" if r.get("disputed") else ""))
        if r.get("period_end"):
            out.append(f"    rating for the year ending {r['period_end']}, valid from "
                       f"{r['assessed_on']}"
                       + (f" (re-evaluated: record {r['reassessed_by']})"
                          if r.get("reassessed_by") else " (publication)"))
        for c in r["contributions"]:
            out.append(f"    {c['indicator']}: value {c['value']} → {c['points']} points"
                       + (f"  ← {', '.join(c['records'])}" if c["records"] else ""))
            if c.get("waived"):
                out.append(f"      not counted: {', '.join(c['waived'])} (relief declared by "
                           f"{', '.join(c['relieved_by'])})")
        for a in r["adjustments"]:
            out.append(f"    {a['kind']} {a['grade']} by {a['rule']}  ← {', '.join(a['records'])}"
                       + (f" via {', '.join(a['via'])}" if a["via"] else ""))
            for b in a["legal_basis"]:
                out.append(f"      basis: {b}")
        if r["principal_reasons"]:
            out.append(f"    principal reasons: {', '.join(r['principal_reasons'])}")
        for w in r.get("withdrawn", ()):
            out.append(f"    {w['part']} {w['id']} no longer counts {', '.join(w['categories'])} "
                       f"since {w['since']}: {w['reason']} [{w['rule']}]")
            for b in w["legal_basis"]:
                out.append(f"      basis: {b}")
    out.append("\nList entries:" if data["list_entries"] else "\nList entries: none")
    for e in data["list_entries"]:
        end = e["end"] or e["planned_end"] or "open"
        out.append(f"  {e['title']} [{e['list']}] {e['status']}: listed {e['listed_on']}, "
                   f"from {e['start']} to {end}"
                   + (f" ({e['end_reason']})" if e["end_reason"] else "")
                   + (" [disputed]" if e.get("disputed") else ""))
        for rec in e["records"]:
            out.append(f"    ← record {rec['id']}: {rec.get('category_title', '')} "
                       f"{rec.get('document_no', '')} ({rec.get('agency', '')}{_via(rec)}, "
                       f"effective {rec.get('effective', '')})"
                       + (" [disputed]" if rec.get("disputed") else ""))
        for b in e["legal_basis"]:
            out.append(f"    basis: {b}")
        for lift in e["lift"]:
            out.append(f"    lift: {lift}")
    out.append("\nMeasures in force:" if data["measures"] else "\nMeasures in force: none")
    out.extend(render_reasons(data["measures"]))
    if data["displayed"]:
        out.append("\nOn public display:")
        for d in data["displayed"]:
            out.append(f"  {d['record']} ({d['category']}) until {d['until']}; "
                       f"repair may be applied for from {d['repair_from']}"
                       + (" [disputed]" if d.get("disputed") else ""))
    for w in data["warnings"]:
        out.append(f"warning: {w}")
    return "\n".join(out)


def _via(rec: dict[str, Any]) -> str:
    """How the record reached the platform: ' via inspection' (model.Channel)."""
    channel = rec.get("channel")
    if not channel:
        return ""
    return " (channel not recorded)" if channel == "unrecorded" else f" via {channel}"


def render_reasons(reasons: list[dict[str, Any]]) -> list[str]:
    """The lines of each measure's chain: clause, entry, records, basis, lift."""
    out = []
    for r in reasons:
        flag = " (overridden by a restriction)" if r["overridden"] else ""
        out.append(f"  {r['measure_title']} [{r['measure']}, {r['kind']}/{r['effect']}]{flag}")
        out.append(f"    ← clause {r['clause']} of {r['memorandum_title']} "
                   f"({r['memorandum_number']}), applied by {r['applied_by']}")
        via = f" via {r['via'][0]} of {r['listed_subject']}" if r["via"] else ""
        out.append(f"    ← entry on {r['list']} from {r['entry_start']}"
                   f"{' to ' + r['entry_end'] if r['entry_end'] else ''}{via}")
        for rec in r["records"]:
            out.append(f"    ← record {rec['id']}: {rec.get('category_title', '')} "
                       f"{rec.get('document_no', '')}{_via(rec)}")
        for b in r["legal_basis"]:
            out.append(f"    basis: {b}")
        for lift in r["lift"]:
            out.append(f"    lift: {lift}")
        if r.get("disputed"):
            out.append(f"    disputed: {', '.join(r['disputed'])}")
        if r.get("pending_review"):
            out.append("    awaiting human review (significant measure)")
    return out
