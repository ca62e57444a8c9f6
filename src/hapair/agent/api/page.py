"""The status page: the cluster at a glance, as this node's agent sees it
(its own status and the peer's last answer), as one HTML document that
refreshes itself. Pure: statuses in, text out; no script, every value escaped."""

from __future__ import annotations

from datetime import datetime
from html import escape

from hapair.model.report import (
    COLUMNS,
    decisions,
    fence_lines,
    promotions,
    rows,
    self_fence_line,
    self_fences,
    summarize,
    witness_line,
)
from hapair.model.status import NodeStatus, StatusDoc

REFRESH_S = 2

STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d1d1f; }
h1 { font-size: 1.3em; margin: 0 0 .2em; }
.sub { color: #666; margin-bottom: 1em; }
.banner { padding: .6em .9em; border-radius: 6px; margin: .8em 0; font-weight: 600; }
.good { background: #e3f4e6; color: #185c25; }
.bad { background: #fbe3e1; color: #8b1d12; }
.hint { background: #fff5d6; color: #6a4b00; font-weight: normal; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { text-align: left; padding: .35em .7em; border-bottom: 1px solid #ddd; }
th { background: #f4f4f6; font-weight: 600; }
td.ok { color: #185c25; } td.no { color: #8b1d12; font-weight: 600; }
h2 { font-size: 1.05em; margin: 1.2em 0 .3em; }
ul { margin: .2em 0; padding-left: 1.2em; } li { margin: .15em 0; }
.mono { font-family: ui-monospace, monospace; font-size: .92em; }
"""


def _clock(at: float, day: bool = False) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S" if day else "%H:%M:%S")


def _list(title: str, items: list[str], css: str = "") -> str:
    if not items:
        return ""
    lis = "".join(f"<li{f' class={css!r}' if css else ''}>{i}</li>" for i in items)
    return f"<h2>{escape(title)}</h2><ul>{lis}</ul>"


def render(cluster: str, vip: str, statuses: list[NodeStatus], peer_of: dict[str, str],
           seen_from: str, now: float) -> str:
    summary = summarize(statuses)
    docs: list[StatusDoc] = [s.doc for s in statuses if s.doc is not None]
    holders = ", ".join(summary.vip_holders) or "no node"
    banner = ('<div class="banner bad">' + "<br>".join(escape(p) for p in summary.problems)
              + "</div>" if summary.problems else
              f'<div class="banner good">Healthy: {escape(", ".join(summary.writable))} '
              f"takes the bookings; VIP {escape(vip)} on {escape(holders)}</div>")
    hints = "".join(f'<div class="banner hint">{escape(h)}</div>' for h in summary.hints)
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = []
    for r in rows(statuses, summary):
        if r.unreachable:
            body.append(f"<tr><td>{escape(r.node)}</td><td class=\"no\" colspan=\"8\">"
                        f"no status: {escape(r.unreachable)}</td></tr>")
            continue
        css = ["", "ok" if r.role_ok else "no", "", "", "mono", "", "",
               "ok" if r.app_ok else "no", "" if r.peer_via else "no"]
        body.append("<tr>" + "".join(
            f"<td{f' class={c!r}' if c else ''}>{escape(v)}</td>"
            for c, v in zip(css, r.cells(), strict=True)) + "</tr>")
    witness = [escape(witness_line(d)) for d in docs if d.witness]
    fences = [escape(line) for line in fence_lines(docs, peer_of)]
    promoted = [f"{_clock(at, True)} {escape(node)} became the primary, writes open "
                f"{e['took_s']:.2f} s after it decided to: {escape(e['why'])}"
                for at, node, e in promotions(docs)]
    closed = [f"{_clock(at, True)} {escape(self_fence_line(node, e))}"
              for at, node, e in self_fences(docs)]
    decided = [f"{_clock(at)} {escape(node)}: {escape(e['reason'])}"
               + (f" &rarr; {escape(', '.join(e['actions']))}" if e["actions"] else "")
               for at, node, e in reversed(decisions(docs, 12))]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_S}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hapair {escape(cluster)}</title><style>{STYLE}</style></head>
<body>
<h1>hapair cluster {escape(cluster)}</h1>
<div class="sub">VIP {escape(vip)} on <strong id="vip-holder">{escape(holders)}</strong>
&middot; seen from {escape(seen_from)} at {_clock(now)} &middot; refreshes every {REFRESH_S} s</div>
{banner}{hints}
<table id="nodes"><tr>{head}</tr>{"".join(body)}</table>
{_list("Witness", witness)}{_list("Fencing", fences)}
{_list("Recent promotions", promoted) or "<h2>Recent promotions</h2><p>none remembered</p>"}
{_list("Self-fences (a node closing its own database), newest first", closed)}
{_list("Last decisions, newest first", decided)}
</body></html>
"""
