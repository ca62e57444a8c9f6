"""The drill's report: a table per scenario in the terminal, JSON for
machines, a PNG per scenario (confirmations and errors over time, the fault
and recovery marked) and a short Markdown page linking the plots."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from hapair.drill.checker import spread


def summarize(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by[r["scenario"]].append(r)
    rows = []
    for name, every in by.items():
        runs = [r for r in every if "failed" not in r]  # failed: the cluster did not settle
        v = [r["verdict"] for r in runs]
        rows.append({
            "scenario": name, "runs": len(every), "failed": len(every) - len(runs),
            "judged": len(runs),
            "lost": sum(len(x["lost"]) for x in v),
            "double": sum(len(x["double"]) for x in v),
            "two_writable": sum(len(x["two_writable"]) for x in v),
            # the longest a paused node stayed writable beside another after it resumed
            "after_resume_s": max((s for x in v for _, s in x.get("after_resume", ())),
                                  default=None),
            # ... with its read_only flag off (its writes refused by the lease's gate)
            "flag_after_resume_s": max((s for x in v for _, s in x.get("flag_after_resume", ())),
                                       default=None),
            # the fewest read_only answers of one node in one run
            "fewest_samples": min((c for x in v for _, c in x.get("samples", ())), default=0),
            "unknown": sum(x["unknown"] for x in v),
            "unknown_found": sum(x["unknown_found"] for x in v),
            "confirmed": sum(x["confirmed"] for x in v),
            "unavailable_s": spread([x["unavailable_s"] for x in v]),
            "longest_wait_s": spread([x.get("longest_wait_s", 0.0) for x in v]),
            "first_confirmed_s": spread([x["first_confirmed_after_fault_s"] for x in v
                                         if x["first_confirmed_after_fault_s"] is not None]),
            "resync_s": spread([r["resync_s"] for r in runs if r["resync_s"] is not None]),
            "alert_s": spread([r["alert_s"] for r in runs if r.get("alert_s") is not None]),
            "alerted": sum(1 for r in runs if r.get("alert_s") is not None),
            "vip_moves": sum(x.get("moves", 0) for x in v),
            # runs in which the VIP moved though no fault of theirs called for it
            "unwanted_moves": sum(1 for r in runs if r["verdict"].get("moves", 0)
                                  and not any(f.get("moves", True) for f in r["faults"])),
            "safe": all(r["safe"] for r in every),
            "stress": any(r.get("stress") for r in every),
        })
    return rows


def plot(result_runs: list[dict[str, Any]], path: Path) -> None:
    """Confirmed bookings and errors per second, one line per run, fault at 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    for r in result_runs:
        t0 = r["faults"][0]["at"]
        history = [json.loads(line) for line in Path(r["history_file"]).read_text().splitlines()
                   if line]
        ok: dict[int, int] = defaultdict(int)
        bad: dict[int, int] = defaultdict(int)
        for op in history:
            second = int((op["ended"] - t0) // 1)
            if op["outcome"] == "confirmed":
                ok[second] += 1
            elif op["outcome"] in ("error", "unknown"):
                bad[second] += 1
        xs = sorted(set(ok) | set(bad))
        if not xs:
            continue
        span = range(min(xs), max(xs) + 1)
        ax.plot(list(span), [ok[s] for s in span], color="tab:green", alpha=0.6, lw=1)
        if any(bad.values()):
            ax.plot(list(span), [bad[s] for s in span], color="tab:red", alpha=0.6, lw=1)
        for f in r["faults"]:
            ax.axvline(f["recovered"] - t0, color="tab:blue", ls=":", lw=0.8)
    ax.axvline(0, color="black", ls="--", lw=1, label="fault")
    ax.plot([], [], color="tab:green", label="confirmed bookings/s")
    ax.plot([], [], color="tab:red", label="errors and unknown/s")
    ax.plot([], [], color="tab:blue", ls=":", label="recovery")
    ax.set_xlabel("seconds from the fault")
    ax.set_ylabel("per second")
    ax.set_title(f"{result_runs[0]['scenario']}: {len(result_runs)} run(s)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def alert_cell(row: dict[str, Any]) -> str:
    """The alert delay's median and max, or why there is none."""
    a = row.get("alert_s")
    if not row.get("alerted") or a is None:
        return "none heard"
    missed = row["judged"] - row["alerted"]
    return f"{a['median']:.2f} / {a['max']:.2f}" + (f" ({missed} run(s) none)" if missed else "")


def moves_cell(r: dict[str, Any]) -> str:
    unwanted = r.get("unwanted_moves", 0)
    return f"{r.get('vip_moves', 0)}" + (f" ({unwanted} run(s) uncalled for)" if unwanted else "")


def two_writable_cell(r: dict[str, Any]) -> str:
    after, flag = r.get("after_resume_s"), r.get("flag_after_resume_s")
    return f"{r['two_writable']}" + ("" if after is None else
                                     f" (at most {after:.2f} s after a resume)") + (
        "" if flag is None else f" (read_only off {flag:.2f} s, writes refused)")


def markdown(rows: list[dict[str, Any]], plots: dict[str, str]) -> str:
    lines = ["# hapair drill report", "",
             "| scenario | runs | lost | double | two writable | fewest read_only samples of "
             "a node in a run | unknown (found) | "
             "unavailable median / p95 / max s | longest wait for one booking median / max s | "
             "first booking after fault median s | resync median s | alert median / max s | "
             "VIP moves |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        u, f, s = r["unavailable_s"], r["first_confirmed_s"], r["resync_s"]
        w = r["longest_wait_s"]
        lines.append(
            f"| {r['scenario']}{' (starved host)' if r['stress'] else ''} | {r['runs']}"
            f"{f' ({failed} failed)' if (failed := r['failed']) else ''} | {r['lost']} | "
            f"{r['double']} | {two_writable_cell(r)} | {r['fewest_samples']} | "
            f"{r['unknown']} ({r['unknown_found']}) | "
            f"{u['median']:.2f} / {u['p95']:.2f} / {u['max']:.2f} | "
            f"{w['median']:.2f} / {w['max']:.2f} | {f['median']:.2f} | "
            f"{s['median']:.1f} | {alert_cell(r)} | {moves_cell(r)} |")
    lines.append("")
    for name, png in plots.items():
        lines += [f"## {name}", "", f"![{name}]({png})", ""]
    return "\n".join(lines)


SOAK_PROGRAMS = ("agent", "mariadbd", "gunicorn", "apache2", "etcd", "keepalived")


def plot_soak(rounds: list[dict[str, Any]], readings: list[tuple[float, Any]],
              path: Path) -> None:
    """The soak's timeline: confirmed bookings per second with every fault
    marked, then each long-running program's memory and open files on each
    machine at every reading."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = readings[0][0] if readings else min((r["started"] for r in rounds), default=0.0)
    fig, (top, mem, fds) = plt.subplots(3, 1, figsize=(12, 9), sharex=True)
    ok: dict[int, int] = defaultdict(int)
    for r in rounds:
        if "failed" in r:
            continue
        for line in Path(r["history_file"]).read_text().splitlines():
            op = json.loads(line) if line else {}
            if op.get("outcome") == "confirmed":
                ok[int(op["ended"] - t0)] += 1
        for f in r["faults"]:
            top.axvline(f["at"] - t0, color="tab:red", lw=0.8)
            top.annotate(r["scenario"], (f["at"] - t0, 0), rotation=90, fontsize=6,
                         va="bottom", ha="right", color="tab:red")
    if ok:
        span = range(0, max(ok) + 1)
        top.plot(list(span), [ok[s] for s in span], color="tab:green", lw=0.6)
    top.set_ylabel("confirmed bookings/s")
    top.set_title(f"soak: {len(rounds)} round(s), a fault in each (red)")
    series: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for at, nodes in readings:
        for node, programs in nodes.items():
            for program, u in programs.items():
                if program in SOAK_PROGRAMS:
                    # The anonymous part where it was read: what a leak grows.
                    kb = u.anon_kb or u.pss_kb
                    series[f"{node} {program}"].append((at - t0, kb / 1024, u.fds))
    for name, points in sorted(series.items()):
        xs = [p[0] for p in points]
        mem.plot(xs, [p[1] for p in points], marker=".", lw=0.8, label=name)
        fds.plot(xs, [p[2] for p in points], marker=".", lw=0.8, label=name)
    mem.set_ylabel("memory (anonymous PSS) MiB")
    fds.set_ylabel("open files")
    fds.set_xlabel("seconds from the soak's start")
    mem.legend(loc="upper left", fontsize=6, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
