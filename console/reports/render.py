"""The SLA report as text (the default), CSV, JSON and HTML (with an inline SVG chart and no scripts).

Every rendering is drawn from the one dict sla.build() returns; nothing here reads the database.
"""
from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

CLASSES = ("I", "II", "III")
CONTACT_WORDS = {"reply": "by reply", "ack": "acknowledged (call, chat)", "details": "details request",
                 "none": "no contact", "open": "still open"}


def span(seconds: float | None) -> str:
    """A duration in at most two units: 45s, 14m59s, 3h12m, 2d3h; "-" when there is none."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    sign, s = ("-" if s < 0 else ""), abs(s)
    parts: list[tuple[int, str]] = []
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        n, s = divmod(s, size)
        if n or parts:
            parts.append((n, unit))
    return sign + ("".join(f"{n}{u}" for n, u in parts[:2] if n) or "0s")


def local(report: dict[str, Any], iso_utc: str) -> str:
    """A stored UTC time in the desk's zone, as the report's reader reads a clock: Mon 07 Dec 2026 08:00 MST."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    at = datetime.fromisoformat(iso_utc).astimezone(ZoneInfo(report["period"]["timezone"]))
    return at.strftime("%a %d %b %Y %H:%M %Z")


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _signed(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "time":
        return ("+" if value > 0 else "") + span(value) if value else "±0"
    return f"{value:+g}{unit}" if value else "±0"


def json_text(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False) + "\n"


def _class_line(name: str, f: dict[str, Any]) -> str:
    oldest = f["oldest_open"]
    old = f"#{oldest['ticket']} {span(oldest['age_seconds'])}" if oldest else "-"
    return (f"{name:<6}{f['tickets_in']:>5}{f['met']:>6}{pct(f['met_pct']):>8}{f['breached']:>10}"
            f"{span(f['median_seconds']):>9}{span(f['p90_seconds']):>9}{f['still_open']:>6}  {old}")


def text(report: dict[str, Any]) -> str:
    p = report["period"]
    out = [f"SLA report {p['label']}, {p['timezone']} (as of {local(report, report['as_of'])})", ""]
    head = f"{'class':<6}{'in':>5}{'met':>6}{'met %':>8}{'breached':>10}{'median':>9}{'p90':>9}{'open':>6}  oldest open"
    by = report["by"]
    if by == "week" and "weeks" in report:
        for w in report["weeks"]:
            out += [f"week {w['week']}", head] + [_class_line(c, w["classes"][c]) for c in CLASSES] + [""]
    if by != "person":
        out += [head] + [_class_line(c, report["classes"][c]) for c in CLASSES] + [_class_line("all", report["total"])]
        ch = report["change"]
        out += ["", f"change from {report['previous']['label']}:"]
        out += [f"  Class {c}: in {_signed(ch[c]['tickets_in'])}, met % {_signed(ch[c]['met_pct'])}, "
                f"median {_signed(ch[c]['median_seconds'], 'time')}, breached {_signed(ch[c]['breached'])}"
                for c in CLASSES]
    contacts = report["total"]["contacts"]
    out += ["", "first contact: " + ", ".join(f"{contacts[k]} {CONTACT_WORDS[k]}" for k in contacts)]
    iii = report["class_iii"]
    out += ["", f"Class III: {iii['tickets_in']} in, {iii['pages_sent']} pages sent, arrival to acknowledgement "
            f"median {span(iii['ack_median_seconds'])}, p90 {span(iii['ack_p90_seconds'])}; "
            f"{iii['reached_team']} reached the whole-team step, {iii['reached_breach']} the breach step"]
    out += ["", f"breaches ({len(report['breaches'])}):"]
    out += [f"  #{b['ticket']:<6} Class {b['class']:<4} {b['assignee'] or '(unassigned)':<14} "
            f"{span(b['late_seconds'])} late, {CONTACT_WORDS.get(b['contact'], b['contact'])}"
            for b in report["breaches"]] or ["  none"]
    out += ["", f"{'person':<16}{'first contacts':>15}{'median':>9}{'breaches while assigned':>25}"]
    out += [f"{r['person']:<16}{r['first_contacts']:>15}{span(r['median_seconds']):>9}"
            f"{r['breaches_while_assigned']:>25}" for r in report["people"]] or ["  nobody made first contact"]
    panic = report["panic"]
    out += ["", "panic mode: " + (", ".join(f"#{x['ticket']}" for x in panic) if panic else "none")]
    return "\n".join(out) + "\n"


CSV_CLASS = ("period", "class", "tickets_in", "met", "met_pct", "breached", "closed_without_contact",
             "median_seconds", "p90_seconds", "still_open", "oldest_open_ticket", "oldest_open_age_seconds")


def _csv_class_row(label: str, cls: str, f: dict[str, Any]) -> list[Any]:
    o = f["oldest_open"] or {}
    return [label, cls, f["tickets_in"], f["met"], f["met_pct"], f["breached"], f["closed_without_contact"],
            f["median_seconds"], f["p90_seconds"], f["still_open"], o.get("ticket"), o.get("age_seconds")]


def csv_text(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if report["by"] == "person":
        w.writerow(["period", "person", "first_contacts", "median_seconds", "breaches_while_assigned"])
        for r in report["people"]:
            w.writerow([report["period"]["label"], r["person"], r["first_contacts"], r["median_seconds"],
                        r["breaches_while_assigned"]])
        return buf.getvalue()
    w.writerow(CSV_CLASS)
    blocks = [(x["week"], x["classes"]) for x in report.get("weeks", [])] if report["by"] == "week" else \
        [(report["period"]["label"], report["classes"])]
    for label, classes in blocks:
        for cls in CLASSES:
            w.writerow(_csv_class_row(label, cls, classes[cls]))
    if report["by"] != "week":
        w.writerow(_csv_class_row(report["period"]["label"], "all", report["total"]))
    return buf.getvalue()


def svg_chart(series: list[tuple[str, dict[str, float | None]]], *, width: int = 560, height: int = 220) -> str:
    """Grouped bars: for each label (a period), each class's met %. Inline SVG, no scripts, text escaped."""
    colours = {"I": "#4c78a8", "II": "#f2a93b", "III": "#d64541"}
    left, bottom, top = 40, 30, 24
    plot_h = height - bottom - top
    group_w = (width - left - 10) / max(1, len(series))
    bar_w = max(4.0, group_w / 4)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             "<title>First contact within target, % per class</title>"]
    for y in (0, 50, 100):
        yy = top + plot_h * (1 - y / 100)
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{width - 5}" y2="{yy:.1f}" stroke="#ccc"/>')
        parts.append(f'<text x="{left - 4}" y="{yy + 4:.1f}" text-anchor="end">{y}%</text>')
    for i, (label, values) in enumerate(series):
        x0 = left + i * group_w + (group_w - 3 * bar_w) / 2
        for j, cls in enumerate(CLASSES):
            v = values.get(cls)
            x = x0 + j * bar_w
            if v is None:
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - 2:.1f}" text-anchor="middle" '
                             f'fill="#888">-</text>')
                continue
            h = plot_h * max(0.0, min(100.0, v)) / 100
            parts.append(f'<rect class="bar-{cls}" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                         f'height="{h:.1f}" fill="{colours[cls]}"><title>Class {cls}: {v:.1f}%</title></rect>')
        parts.append(f'<text x="{left + i * group_w + group_w / 2:.1f}" y="{height - 10}" text-anchor="middle">'
                     f'{html.escape(label)}</text>')
    for j, cls in enumerate(CLASSES):
        parts.append(f'<rect x="{left + j * 70}" y="4" width="10" height="10" fill="{colours[cls]}"/>'
                     f'<text x="{left + j * 70 + 14}" y="13">Class {cls}</text>')
    parts.append("</svg>")
    return "".join(parts)


def chart_series(report: dict[str, Any]) -> list[tuple[str, dict[str, float | None]]]:
    """What the chart shows: the weeks (with --by week), else the period before and this one."""
    if report.get("weeks"):
        return [(w["from"], {c: w["classes"][c]["met_pct"] for c in CLASSES}) for w in report["weeks"]]
    prev = report["previous"]
    return [(prev["label"].split(" ")[0], {c: prev["classes"][c]["met_pct"] for c in CLASSES}),
            (report["period"]["label"].split(" ")[0], {c: report["classes"][c]["met_pct"] for c in CLASSES})]


def html_text(report: dict[str, Any], chart: str | None = None) -> str:
    """A whole HTML page: the figures as tables and the chart as inline SVG. No scripts, no remote parts."""
    e = html.escape
    p = report["period"]

    def row(cells: list[Any], tag: str = "td") -> str:
        return "<tr>" + "".join(f"<{tag}>{e(str(c))}</{tag}>" for c in cells) + "</tr>"

    head = ["class", "in", "met", "met %", "breached", "median", "p90", "open", "oldest open"]
    body = []
    for name, f in [*((f"Class {c}", report["classes"][c]) for c in CLASSES), ("all", report["total"])]:
        o = f["oldest_open"]
        body.append(row([name, f["tickets_in"], f["met"], pct(f["met_pct"]), f["breached"], span(f["median_seconds"]),
                         span(f["p90_seconds"]), f["still_open"],
                         f"#{o['ticket']} ({span(o['age_seconds'])})" if o else "-"]))
    breaches = [row([f"#{b['ticket']}", b["class"], b["assignee"] or "(unassigned)", span(b["late_seconds"]),
                     CONTACT_WORDS.get(b["contact"], b["contact"])]) for b in report["breaches"]]
    people = [row([r["person"], r["first_contacts"], span(r["median_seconds"]), r["breaches_while_assigned"]])
              for r in report["people"]]
    iii = report["class_iii"]
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>SLA report {e(p['label'])}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}th{background:#eee}"
        "td:first-child{text-align:left}</style></head><body>",
        f"<h1>SLA report {e(p['label'])}</h1>",
        f"<p>Time zone {e(p['timezone'])}; as of {e(local(report, report['as_of']))}. First contact within target, "
        "per class:</p>",
        f'<div class="chart">{chart or svg_chart(chart_series(report))}</div>',
        '<table id="classes">', row(head, "th"), *body, "</table>",
        f"<h2>Class III</h2><p id=\"class-iii\">{iii['tickets_in']} in, {iii['pages_sent']} pages sent; arrival to "
        f"acknowledgement median {e(span(iii['ack_median_seconds']))}, p90 {e(span(iii['ack_p90_seconds']))}; "
        f"{iii['reached_team']} reached the whole-team step, {iii['reached_breach']} the breach step.</p>",
        f"<h2>Breaches ({len(breaches)})</h2>",
        '<table id="breaches">', row(["ticket", "class", "assignee", "late", "first contact"], "th"), *breaches,
        "</table>",
        "<h2>People</h2>", '<table id="people">',
        row(["person", "first contacts", "median", "breaches while assigned"], "th"), *people, "</table>",
        "<p>Panic mode: " + (e(", ".join(f"#{x['ticket']}" for x in report["panic"])) or "none") + "</p>",
        "</body></html>", ""])
