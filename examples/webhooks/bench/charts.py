#!/usr/bin/env python3
"""Draw the benchmark results as SVG charts and write results.md beside them.

Usage: python3 bench/charts.py HISTORY OUT_DIR
  HISTORY  docs/benchmarks/history.jsonl (one run per line) or a single run's JSON
  OUT_DIR  where latency.svg, throughput.svg, history.svg and results.md are written

`just bench` runs this after every run. pygal (pinned in bench/requirements.txt) is installed
into target/bench/python the first time.
"""
import importlib
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENDOR = ROOT / "target" / "bench" / "python"

# The scenarios the history chart follows, and how they are named in charts and tables.
LABELS = {
    "bare_axum": "bare axum (ceiling)",
    "healthz": "GET /healthz",
    "get_task": "GET /tasks/{id}",
    "get_task_half_rate": "GET /tasks/{id} at half rate",
    "list_first_page": "GET /tasks first page",
    "list_deep_keyset": "GET /tasks deep page (cursor)",
    "list_deep_offset": "GET /tasks deep page (offset)",
    "create_task": "POST /tasks",
    "login_saturated": "POST /auth/login (saturated)",
    "login_excess": "excess logins (refused)",
    "healthz_logins_saturated": "GET /healthz beside logins",
    "mixed_reads": "mixed: reads",
    "mixed_writes": "mixed: writes",
}
# The history chart draws p50, p95 and p99 of these, one line each, over the recorded runs.
HISTORY = ["healthz", "get_task", "create_task"]


def pygal_module():
    try:
        import pygal
        return pygal
    except ImportError:
        pass
    sys.path.insert(0, str(VENDOR))
    try:
        import pygal
        return pygal
    except ImportError:
        pass
    print("==> installing pygal into target/bench/python (once)", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", "--target", str(VENDOR), "-r",
                    str(ROOT / "bench" / "requirements.txt")], check=True)
    importlib.invalidate_caches()  # the directory was just written: look again
    import pygal
    return pygal


def load(path):
    text = pathlib.Path(path).read_text().strip()
    if path.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [json.loads(text)]


def style(pygal):
    return pygal.style.Style(background="white", plot_background="white",
                             font_family="sans-serif", colors=("#1f77b4", "#ff7f0e", "#d62728",
                                                               "#2ca02c", "#9467bd", "#8c564b"))


def latency_chart(pygal, run, out):
    names = [name for name in LABELS if name in run["scenarios"]]
    slowest = max(run["scenarios"][name]["p99_ms"] for name in names)
    # Round ticks only: pygal's own on a log axis crowd into each other.
    ticks = [t for t in (0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000) if t < slowest * 3]
    chart = pygal.HorizontalBar(style=style(pygal), logarithmic=True, height=120 + 45 * len(
        names), legend_at_bottom=True, truncate_label=40, y_labels=ticks,
        title=f"Latency per scenario, ms (log scale) — {run['date'][:10]}")
    chart.x_labels = [LABELS[name] for name in names]
    for key, title in [("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")]:
        chart.add(title, [run["scenarios"][name][key] for name in names])
    chart.render_to_file(str(out / "latency.svg"))


def throughput_chart(pygal, run, out):
    chart = pygal.Line(style=style(pygal), legend_at_bottom=True, dots_size=4,
                       title="Throughput against concurrency, requests/s",
                       x_title="clients (connections)")
    clients = sorted(run["sweep"], key=int)
    chart.x_labels = clients
    for key, title in [("healthz", "GET /healthz"), ("get_task", "GET /tasks/{id}")]:
        chart.add(title, [run["sweep"][c][key] for c in clients])
    chart.render_to_file(str(out / "throughput.svg"))


def history_chart(pygal, runs, out):
    chart = pygal.Line(style=style(pygal), legend_at_bottom=True, dots_size=4,
                       truncate_label=40, truncate_legend=40, logarithmic=True,
                       title="p50, p95 and p99 latency over time, ms (log scale)",
                       x_label_rotation=30)
    # A short run recorded on purpose (`--record`, e.g. `just ritual --smoke`) says so.
    chart.x_labels = [run["date"][:10] + (f" {run['label']}" if run.get("label") else "")
                      + (f" ({run['profile']})" if run.get("profile", "full") != "full" else "")
                      for run in runs]
    for name in HISTORY:
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            chart.add(f"{LABELS[name]} {key[:3]}",
                      [run["scenarios"].get(name, {}).get(key) for run in runs])
    chart.render_to_file(str(out / "history.svg"))


def results_page(runs, out):
    run = runs[-1]
    m = run["machine"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `just bench` (bench/bench.py, bench/charts.py); do not edit by hand. Every",
        "whole run appends a line to `history.jsonl`; this page shows the latest run and the",
        "history. Ratios are the figures to compare: the load generator, the service and Postgres",
        "share one machine, so absolute figures move with everything else running on it.",
        "",
        f"Latest run: **{run['date']}**, variant `{run['variant']}`, commit "
        f"`{run.get('commit') or '-'}`{', ' + run['label'] if run.get('label') else ''}.",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m.get('memory_gib')} GiB, {m['os']}; "
        f"{m.get('rustc')}; {m.get('oha')}; {m.get('postgres')} (autovacuum "
        f"{m.get('postgres_autovacuum', '?')}). {m['note']}.",
        f"Each scenario: {run['settings']['duration']} s at {run['settings']['concurrency']} "
        f"connections; {run['settings']['tasks']} tasks for the reads, "
        f"{run['settings']['pages']} for the paging account.",
        "",
        "![Latency per scenario](latency.svg)",
        "",
        "| scenario | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in run["scenarios"].items():
        lines.append(f"| {LABELS.get(name, name)} | {s['rps']:.0f} | {s['p50_ms']:.2f} | "
                     f"{s['p95_ms']:.2f} | {s['p99_ms']:.2f} | {s['max_ms']:.1f} | "
                     f"{s['errors']} |")
    if run["ceilings"].get("pgbench_tps"):
        lines.append(f"| pgbench -S -M prepared (ceiling) | {run['ceilings']['pgbench_tps']:.0f} "
                     "| | | | | |")
    for name, hook in run.get("webhooks", {}).items():
        lines.append(f"| webhook deliveries, {hook['load']} | {hook['deliveries_per_s']:.0f} "
                     f"deliveries/s | {hook['p50_ms']:.1f} | | {hook['p99_ms']:.1f} | | "
                     f"{hook['not_delivered']} |")
    lines += ["", "Webhook latencies run from the task's commit (enqueue) to the receiver's answer.",
              "", "## Targets", "", "| target | goal | this run | |", "|---|---|---:|---|"]
    for target in run["targets"]:
        value = "-" if target["value"] is None else f"{target['value']:.2f}"
        verdict = {None: "not measured", True: "met", False: "**missed**"}[target["met"]]
        lines.append(f"| {target['what']} | {target['goal']} | {value} | {verdict} |")
    lines += ["", "![Throughput against concurrency](throughput.svg)", "",
              "## History", "", "![p50, p95 and p99 over time](history.svg)", "",
              "| date | label | variant | GET /tasks/{id} rps | ÷ pgbench | /healthz ÷ bare axum "
              "| GET /tasks/{id} p99 ms | RSS after soak MiB |",
              "|---|---|---|---:|---:|---:|---:|---:|"]
    for past in reversed(runs):
        f = past["figures"]
        get = past["scenarios"].get("get_task", {})
        lines.append(
            f"| {past['date'][:16].replace('T', ' ')} | {past.get('label') or ''} | "
            f"{past['variant']} | {get.get('rps', 0):.0f} | "
            f"{f.get('get_task_vs_pgbench', 0):.2f} | {f.get('healthz_vs_bare_axum', 0):.2f} | "
            f"{get.get('p99_ms', 0):.2f} | {f.get('rss_after_soak_mib', '-')} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    runs = load(sys.argv[1])
    out = pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    pygal = pygal_module()
    latency_chart(pygal, runs[-1], out)
    if runs[-1].get("sweep"):
        throughput_chart(pygal, runs[-1], out)
    history_chart(pygal, runs, out)
    results_page(runs, out)
    print(f"charts and results.md written to {out}")


if __name__ == "__main__":
    main()
