#!/usr/bin/env python3
"""Load benchmarks of this service: `just bench` (the whole run) or `just bench --smoke`.

One run builds in release, creates and seeds a fresh database, starts the service, drives each
scenario with oha (a real HTTP load generator, installed pinned when missing), measures two
ceilings on the same machine in the same run (pgbench -S on the same Postgres, and a bare
axum server, bench/hello.rs), and prints a table with the ratios. A whole run appends its
figures to docs/benchmarks/history.jsonl and redraws the charts (bench/charts.py); a smoke run
(a few seconds per scenario, small tables) writes to target/bench/ only. Taught on days 10
and 20 of the course.

Ratios are the figures to compare between runs and machines: the load generator, the service
and Postgres share the same cores, so absolute figures move with everything else running.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
OHA_VERSION = "1.16.0"
PASSWORD = "bench-password-0123456789"
HASH_QUEUE = 32  # PASSWORD_HASH_QUEUE of the benchmarked service (the default)

# ANCHOR: profiles
# The whole run and the smoke run differ only in sizes and durations.
PROFILES = {
    "full": dict(duration=10, concurrency=32, sweep=[1, 4, 16, 64], tasks=100_000,
                 pages=1_000_000, soak=300, logins=64, webhook_rate=100),
    "smoke": dict(duration=2, concurrency=8, sweep=[1, 8], tasks=2_000,
                  pages=20_000, soak=4, logins=48, webhook_rate=20),
}

# What the service should reach on a 2-core machine with the load generator beside it.
# Each is checked against this run's own figures (see `targets`).
TARGETS = [
    ("get_task_vs_pgbench", ">=", 0.6, "GET /tasks/{id} rps / pgbench -S tps"),
    ("get_task_p99_half_rate_ms", "<=", 5.0, "GET /tasks/{id} p99 at half its max rate (ms)"),
    ("healthz_vs_bare_axum", ">=", 0.8, "/healthz rps / bare axum rps"),
    ("healthz_p99_logins_saturated_ms", "<=", 10.0, "/healthz p99 while logins saturate (ms)"),
    ("login_rejections_p50_ms", "<=", 10.0, "excess logins: p50 of the 503s (ms)"),
    ("rss_idle_mib", "<=", 25.0, "RSS idle (MiB)"),
    ("rss_after_load_mib", "<=", 80.0, "RSS after the scenarios (MiB)"),
    ("rss_soak_growth_mib", "<=", 5.0, "RSS growth across the soak (MiB)"),
    ("deep_page_vs_first_page", "<=", 1.5, "keyset deep page p50 / first page p50"),
]
# ANCHOR_END: profiles


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds per scenario; writes to target/bench/ only")
    parser.add_argument("--duration", type=int, help="seconds per scenario")
    parser.add_argument("--soak", type=int, help="seconds of the mixed soak run")
    parser.add_argument("--only", help="comma-separated scenario names to run (no recording)")
    parser.add_argument("--label", default="", help="a note kept with the run in the history")
    parser.add_argument("--record", action="store_true",
                        help="record this run in the history even if it is short or partial "
                             "(`just ritual` does; the run's profile and settings are kept)")
    args = parser.parse_args()

    profile = dict(PROFILES["smoke" if args.smoke else "full"])
    if args.duration:
        profile["duration"] = args.duration
    if args.soak is not None:
        profile["soak"] = args.soak
    record = args.record or (not args.smoke and not args.only and args.duration is None
                             and args.soak is None)
    only = set(args.only.split(",")) if args.only else None

    load_dotenv()
    meta = cargo_metadata()
    work = pathlib.Path(meta["target_directory"]) / "bench"
    work.mkdir(parents=True, exist_ok=True)
    oha = ensure_oha()
    need("psql", "the PostgreSQL client (Debian/Ubuntu: postgresql-client)")

    step("building in release")
    run(["cargo", "build", "--release", "--locked", "--bin", meta["name"],
         "--example", "bench-hello"])
    release = pathlib.Path(meta["target_directory"]) / "release"
    bench = Bench(args, profile, meta, work, oha, release / meta["name"],
                  release / "examples" / "bench-hello", only)
    try:
        results = bench.run()
    finally:
        bench.stop()

    out = ROOT / "docs" / "benchmarks" if record else work
    out.mkdir(parents=True, exist_ok=True)
    (work / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    if record:
        with open(out / "history.jsonl", "a") as history:
            history.write(json.dumps(results, separators=(",", ":")) + "\n")
    print_summary(results)
    if results["scenarios"]:
        history = out / "history.jsonl" if record else work / "latest.json"
        run([sys.executable, str(ROOT / "bench" / "charts.py"), str(history), str(out)])
    if record:
        print(f"\nrecorded in {rel(out / 'history.jsonl')}; charts and results.md in {rel(out)}")
    else:
        print(f"\nnot recorded (smoke or partial run); figures and charts in {rel(work)}")


class Bench:
    def __init__(self, args, profile, meta, work, oha, service, hello, only):
        self.args, self.p, self.meta, self.work = args, profile, meta, work
        self.oha, self.service_bin, self.hello_bin, self.only = oha, service, hello, only
        self.processes = []
        self.requests = 0
        base = os.environ.get("DATABASE_URL")
        if not base:
            sys.exit("bench: DATABASE_URL is not set (copy .env.example to .env)")
        self.admin_url = with_database(base, "postgres")
        self.db_url = with_database(base, database_name(base) + "_bench")
        self.pgbench_url = with_database(base, database_name(base) + "_pgbench")
        self.variant = read_variant()

    # --- the run -------------------------------------------------------------------------

    def run(self):
        p = self.p
        results = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "label": self.args.label,
            # Who ran it: `service` (this service, the default) or `kit` (the reference runs the
            # kit ships in docs/benchmarks/, BENCH_ORIGIN=kit). The course's gates judge only
            # this service's own runs.
            "origin": os.environ.get("BENCH_ORIGIN", "service"),
            "service": self.meta["name"],
            "variant": self.variant,
            "commit": git_commit(),
            "profile": "smoke" if self.args.smoke else "full",
            "settings": p,
            "machine": machine(),
            "scenarios": {},
            "ceilings": {},
            "sweep": {},
            "figures": {},
        }
        scenarios, figures = results["scenarios"], results["figures"]
        c, d = p["concurrency"], p["duration"]

        # Queue and write figures depend on it; CI machines often run Postgres without it.
        results["machine"]["postgres_autovacuum"] = self.psql(self.admin_url, "SHOW autovacuum")
        step(f"fresh database {database_name(self.db_url)}")
        self.fresh_database(self.db_url)
        run([str(self.service_bin), "migrate"], env=self.service_env(), quiet=True)

        self.hello_port = free_port()
        self.start("bench-hello", [str(self.hello_bin), f"127.0.0.1:{self.hello_port}"], {})
        wait_http(f"http://127.0.0.1:{self.hello_port}/")

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = self.start("service", [str(self.service_bin)], self.service_env())
        wait_http(self.base + "/readyz")
        time.sleep(1)
        figures["rss_idle_mib"] = rss_mib(self.server.pid)

        step("accounts and seed data")
        token = self.account("bench@example.com")
        pager = self.account("pager@example.com")
        self.seed("bench@example.com", p["tasks"])
        paging = any(self.wanted(name) for name in
                     ("list_first_page", "list_deep_keyset", "list_deep_offset"))
        # The paging study needs its own large account; a partial run without it skips it.
        self.seed("pager@example.com", p["pages"] if paging else 100)
        auth = ["-H", f"Authorization: Bearer {token}"]
        page = request(self.base + "/tasks?limit=1", token)
        task_url = f"{self.base}/tasks/{page['items'][0]['id']}"
        depth = p["pages"] // 2 if paging else 50
        deep = request(f"{self.base}/tasks?limit=20&offset={depth}", pager)
        deep_cursor = urllib.parse.quote(deep["next_cursor"], safe="")
        pager_auth = ["-H", f"Authorization: Bearer {pager}"]
        new_task = ["-m", "POST", "-H", "Content-Type: application/json",
                    "-d", json.dumps({"title": "A benchmark task"})]

        if self.wanted("pgbench"):
            step("ceiling: pgbench -S -M prepared")
            results["ceilings"]["pgbench_tps"] = self.pgbench(c, d)
        if self.wanted("bare_axum"):
            step("ceiling: bare axum")
            scenarios["bare_axum"] = self.load([f"http://127.0.0.1:{self.hello_port}/"], c, d)

        # ANCHOR: scenario_plan
        plan = [
            ("healthz", [self.base + "/healthz"]),
            ("get_task", auth + [task_url]),
            ("list_first_page", pager_auth + [self.base + "/tasks?limit=20"]),
            ("list_deep_keyset", pager_auth + [f"{self.base}/tasks?limit=20&cursor={deep_cursor}"]),
            ("list_deep_offset", pager_auth + [f"{self.base}/tasks?limit=20&offset={depth}"]),
            ("create_task", auth + new_task + [self.base + "/tasks"]),
        ]
        for name, target in plan:
            if self.wanted(name):
                step(name)
                scenarios[name] = self.load(target, c, d)
                scenarios[name]["rss_after_mib"] = rss_mib(self.server.pid)
        # ANCHOR_END: scenario_plan

        if self.wanted("get_task") and "get_task" in scenarios:
            half = max(1, int(scenarios["get_task"]["rps"] / 2))
            step(f"get_task at half its max rate ({half}/s)")
            scenarios["get_task_half_rate"] = self.load(
                auth + [task_url], c, d, extra=["-q", str(half), "--latency-correction"])
        if self.wanted("sweep"):
            for clients in p["sweep"]:
                step(f"sweep: {clients} clients")
                results["sweep"][str(clients)] = {
                    "get_task": self.load(auth + [task_url], clients, d)["rps"],
                    "healthz": self.load([self.base + "/healthz"], clients, d)["rps"],
                }
        if self.wanted("login"):
            # More clients than hashing threads (one per core) plus the queue, whatever the
            # machine: otherwise nothing is refused and the scenario measures something else.
            clients = max(p["logins"], 2 * ((os.cpu_count() or 1) + HASH_QUEUE))
            step(f"logins saturated ({clients} clients) with /healthz probed beside them")
            self.logins_saturated(scenarios, figures, clients, d)
            figures["rss_after_logins_mib"] = rss_mib(self.server.pid)
        if self.variant in ("webhooks", "full") and self.wanted("webhooks"):
            step("webhook deliveries to a local receiver")
            results["webhooks"] = self.webhooks(token, auth + new_task + [self.base + "/tasks"], c, d)

        figures["requests_before_soak"] = self.requests
        figures["rss_after_load_mib"] = rss_mib(self.server.pid)
        if self.wanted("mixed"):
            step(f"mixed read/write soak, {p['soak']} s")
            self.soak(scenarios, figures, auth + [task_url], auth + new_task + [self.base + "/tasks"],
                      c, p["soak"])

        self.derive(results)
        return results

    def wanted(self, name):
        return self.only is None or name in self.only

    def derive(self, results):
        s, f, ceil = results["scenarios"], results["figures"], results["ceilings"]
        if "get_task" in s and ceil.get("pgbench_tps"):
            f["get_task_vs_pgbench"] = s["get_task"]["rps"] / ceil["pgbench_tps"]
        if "get_task_half_rate" in s:
            f["get_task_p99_half_rate_ms"] = s["get_task_half_rate"]["p99_ms"]
        if "healthz" in s and "bare_axum" in s:
            f["healthz_vs_bare_axum"] = s["healthz"]["rps"] / s["bare_axum"]["rps"]
        if "list_deep_keyset" in s and "list_first_page" in s:
            f["deep_page_vs_first_page"] = (s["list_deep_keyset"]["p50_ms"]
                                            / s["list_first_page"]["p50_ms"])
        results["targets"] = [
            {"name": name, "goal": f"{op} {goal:g}", "what": what,
             "value": f.get(name),
             "met": None if f.get(name) is None else
             (f[name] >= goal if op == ">=" else f[name] <= goal)}
            for name, op, goal, what in TARGETS
        ]

    # --- scenarios ----------------------------------------------------------------------

    def load(self, target, clients, seconds, extra=(), background=False):
        """One oha run: `target` is the URL preceded by any request options."""
        command = [self.oha, "--no-tui", "--output-format", "json", "-z", f"{seconds}s",
                   "-c", str(clients), *extra, *target]
        if background:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            self.processes.append(process)
            return process
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"bench: oha failed ({result.returncode}): {result.stderr.strip()}")
        return self.summarise(result.stdout)

    def summarise(self, output):
        # oha reports connection errors and exits 0: a service that died mid-run must not
        # look like a fast one (or like a small one, to the memory targets).
        if getattr(self, "server", None) is not None and self.server.poll() is not None:
            sys.exit(f"bench: the service exited ({self.server.returncode}) during the run; "
                     f"see {rel(self.work / 'service.log')}")
        report = json.loads(output)
        summary, pct = report["summary"], report["latencyPercentiles"]
        statuses = {str(k): v for k, v in report.get("statusCodeDistribution", {}).items()}
        # Requests still in flight when the duration ends are cut off by oha, not failed.
        errors = sum(count for error, count in report.get("errorDistribution", {}).items()
                     if error != "aborted due to deadline")
        total = sum(statuses.values()) + errors
        self.requests += total
        ms = lambda seconds: round((seconds or 0) * 1000, 3)
        return {
            "rps": round(summary["requestsPerSec"], 1),
            "p50_ms": ms(pct["p50"]), "p95_ms": ms(pct["p95"]), "p99_ms": ms(pct["p99"]),
            "max_ms": ms(summary["slowest"]),
            "requests": total,
            "errors": errors + sum(v for k, v in statuses.items() if not k.startswith("2")),
            "statuses": statuses,
        }

    def logins_saturated(self, scenarios, figures, clients, seconds):
        body = json.dumps({"email": "bench@example.com", "password": PASSWORD})
        logins = self.load(["-m", "POST", "-H", "Content-Type: application/json", "-d", body,
                            self.base + "/auth/login"], clients, seconds, background=True)
        time.sleep(0.5)
        probe = self.load([self.base + "/healthz"], 2, max(1, seconds - 1), extra=["-q", "200"])
        scenarios["healthz_logins_saturated"] = probe
        scenarios["login_saturated"] = self.summarise(logins.communicate()[0])
        figures["healthz_p99_logins_saturated_ms"] = probe["p99_ms"]
        # How fast the excess is refused: oha reports all latencies together, so the 503s are
        # timed on their own with a short second run while the first keeps the hashers busy.
        filler = self.load(["-m", "POST", "-H", "Content-Type: application/json", "-d", body,
                            self.base + "/auth/login"], clients, seconds, background=True)
        time.sleep(0.5)
        refused = self.load(["-m", "POST", "-H", "Content-Type: application/json", "-d",
                             json.dumps({"email": "nobody@example.com", "password": PASSWORD}),
                             self.base + "/auth/login"], 4, max(1, seconds - 1))
        filler.communicate()
        scenarios["login_excess"] = refused
        refusals = refused["statuses"].get("503", 0) / max(1, refused["requests"])
        figures["login_refused_share"] = round(refusals, 3)
        # oha times all answers together: their p50 is the refusals' only if nearly all are.
        if refusals >= 0.9:
            figures["login_rejections_p50_ms"] = refused["p50_ms"]
        else:
            warn(f"only {refusals:.0%} of the excess logins were refused: no refusal figure")

    def soak(self, scenarios, figures, read, write, clients, seconds):
        reads = self.load(read, max(1, clients * 3 // 4), seconds, background=True)
        writes = self.load(write, max(1, clients // 4), seconds, background=True)
        samples, started = [], time.monotonic()
        while reads.poll() is None or writes.poll() is None:
            samples.append([round(time.monotonic() - started, 1), rss_mib(self.server.pid)])
            time.sleep(min(10, max(1, seconds / 10)))
        read_figures = self.summarise(reads.communicate()[0])
        write_figures = self.summarise(writes.communicate()[0])
        scenarios["mixed_reads"], scenarios["mixed_writes"] = read_figures, write_figures
        figures["rss_soak_samples"] = samples
        figures["rss_after_soak_mib"] = rss_mib(self.server.pid)
        # Growth is judged from the second half of the run on: the first minutes fill pools,
        # caches and allocator arenas, which is warm-up rather than a leak.
        half = [mib for at, mib in samples if at >= seconds / 2] or [samples[-1][1]]
        figures["rss_soak_growth_mib"] = round(max(half) - half[0], 1)

    def webhooks(self, token, create, clients, seconds):
        endpoint = request(self.base + "/webhooks", token, {
            "url": f"http://127.0.0.1:{self.hello_port}/hook", "event_types": ["task.created"]})
        figures = {}
        # Earlier phases leave jobs behind (every task write queues a task_event); measured
        # behind them, a delivery's latency would be the backlog's, not the pipeline's.
        self.wait_until(lambda: self.busy_jobs() == 0, "jobs left by earlier phases")
        # Latency at a steady rate the worker keeps up with, then throughput from a backlog.
        rate = self.p["webhook_rate"]
        self.load(create, 4, seconds, extra=["-q", str(rate)])
        figures["steady"] = self.deliveries(endpoint["id"], f"{rate}/s of task.created")
        self.psql(self.db_url, "DELETE FROM webhook_deliveries")
        self.load(create, clients, seconds)
        figures["backlog"] = self.deliveries(endpoint["id"], "as fast as tasks are created")
        request(f"{self.base}/webhooks/{endpoint['id']}", token, method="DELETE")
        # What did not drain in time must not load the phases after this one.
        self.psql(self.db_url, "DELETE FROM jobs WHERE kind = 'webhook_delivery' "
                  "AND status IN ('queued', 'running')")
        return figures

    def wait_until(self, done, what, seconds=300):
        deadline = time.monotonic() + seconds
        while not done():
            if time.monotonic() > deadline:
                warn(f"{what}: still waiting after {seconds} s, going on")
                return
            time.sleep(1)

    def deliveries(self, endpoint_id, load):
        # Done when no delivery is pending and no job is left that could still create one
        # (a task_event fans out into deliveries when it runs).
        self.wait_until(lambda: self.busy_jobs() == 0 and self.pending_deliveries() == 0,
                        "pending deliveries (counted as not delivered)")
        row = self.psql(self.db_url, f"""
            SELECT count(*) FILTER (WHERE status = 'delivered'),
                   count(*) FILTER (WHERE status <> 'delivered'),
                   extract(epoch FROM max(delivered_at) - min(created_at)),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at)),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at))
            FROM webhook_deliveries WHERE endpoint_id = '{endpoint_id}'""").split("|")
        delivered, failed = int(row[0]), int(row[1])
        span = float(row[2] or 0)
        return {
            "load": load,
            "delivered": delivered,
            "not_delivered": failed,
            "deliveries_per_s": round(delivered / span, 1) if span else 0,
            "p50_ms": round(float(row[3] or 0) * 1000, 1),
            "p99_ms": round(float(row[4] or 0) * 1000, 1),
        }

    def pgbench(self, clients, seconds):
        if shutil.which("pgbench") is None:
            warn("pgbench not found (Debian: postgresql, or postgresql-contrib): no ceiling")
            return None
        self.fresh_database(self.pgbench_url)
        run(["pgbench", "-i", "-q", "-s", "10", self.pgbench_url], quiet=True)
        output = subprocess.run(
            ["pgbench", "-S", "-M", "prepared", "-n", "-c", str(clients),
             "-j", str(min(clients, os.cpu_count() or 1)), "-T", str(seconds), self.pgbench_url],
            capture_output=True, text=True, check=True).stdout
        self.drop_database(self.pgbench_url)
        return round(float(re.search(r"tps = ([\d.]+)", output).group(1)), 1)

    # --- plumbing -----------------------------------------------------------------------

    # ANCHOR: service_env
    def service_env(self):
        env = {
            "DATABASE_URL": self.db_url,
            "DATABASE_CREATE_IF_MISSING": "false",
            "DATABASE_MIGRATE": "false",
            # One client address sends all the load: the per-IP limits would measure
            # themselves. They stay in the stack, with quotas out of reach.
            "RATE_LIMIT_PER_SECOND": "1000000",
            "RATE_LIMIT_BURST": "1000000",
            "AUTH_RATE_LIMIT_PER_MINUTE": "1000000",
            "AUTH_RATE_LIMIT_BURST": "1000000",
            "LOG_FORMAT": "json",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "",
            "REDIS_KEY_PREFIX": f"{self.meta['name']}-bench-{os.getpid()}:",
            "WEBHOOK_ALLOW_INSECURE_URLS": "true",
            "PASSWORD_HASH_QUEUE": str(HASH_QUEUE),
        }
        if getattr(self, "port", None):
            env["APP_ADDR"] = f"127.0.0.1:{self.port}"
        return env
    # ANCHOR_END: service_env

    def start(self, name, command, env):
        log = open(self.work / f"{name}.log", "w")
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=log,
                                   stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        if hasattr(self, "server"):
            self.drop_database(self.db_url, check=False)

    def account(self, email):
        request(self.base + "/auth/register", None, {
            "email": email, "display_name": "Bench", "password": PASSWORD})
        return request(self.base + "/auth/login", None,
                       {"email": email, "password": PASSWORD})["access_token"]

    def seed(self, email, count):
        # Seeding a million rows is one slow statement by design: not worth a warning here.
        run([str(self.service_bin), "seed-tasks", email, str(count)],
            env={**self.service_env(), "LOG_LEVEL": "error"})

    def fresh_database(self, url):
        self.drop_database(url)
        self.psql(self.admin_url, f'CREATE DATABASE "{database_name(url)}"')

    def drop_database(self, url, check=True):
        self.psql(self.admin_url, f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)',
                  check=check)

    def pending_deliveries(self):
        return int(self.psql(self.db_url, "SELECT count(*) FROM webhook_deliveries "
                             "WHERE status = 'pending'"))

    def busy_jobs(self):
        """Jobs queued or running: the worker's backlog."""
        return int(self.psql(self.db_url, "SELECT count(*) FROM jobs "
                             "WHERE status IN ('queued', 'running')"))

    def psql(self, url, sql, check=True):
        result = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                 "-c", sql, url], capture_output=True, text=True)
        if check and result.returncode != 0:
            sys.exit(f"bench: psql failed: {result.stderr.strip()}")
        return result.stdout.strip()


def print_summary(results):
    print(f"\n{results['service']} ({results['variant']}), {results['profile']} run, "
          f"{results['date']}, {results['machine']['cpus']} CPUs")
    header = f"{'scenario':<26}{'rps':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}" \
             f"{'max ms':>9}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for name, s in results["scenarios"].items():
        print(f"{name:<26}{s['rps']:>10.0f}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}"
              f"{s['p99_ms']:>9.2f}{s['max_ms']:>9.1f}{s['errors']:>8}")
    if results["ceilings"].get("pgbench_tps"):
        print(f"{'pgbench -S (tps)':<26}{results['ceilings']['pgbench_tps']:>10.0f}")
    for name, hook in results.get("webhooks", {}).items():
        print(f"webhooks {name:<17}{hook['deliveries_per_s']:>10.0f}{hook['p50_ms']:>9.1f}"
              f"{'':>9}{hook['p99_ms']:>9.1f}{'':>9}{hook['not_delivered']:>8}"
              f"   deliveries/s, enqueue->delivered")
    f = results["figures"]
    print("\nratios and figures")
    for target in results["targets"]:
        value = target["value"]
        verdict = "n/a" if value is None else ("met" if target["met"] else "MISSED")
        shown = "-" if value is None else f"{value:.2f}"
        print(f"  {target['what']:<52}{shown:>9}  goal {target['goal']:<7} {verdict}")
    print(f"  RSS after soak: {f.get('rss_after_soak_mib', '-')} MiB; "
          f"requests before soak: {f.get('requests_before_soak', '-')}")


# --- helpers ---------------------------------------------------------------------------

def step(text):
    print(f"==> {text}", flush=True)


def warn(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def rel(path):
    try:
        return path.relative_to(ROOT)
    except ValueError:
        return path


def run(command, env=None, quiet=False):
    result = subprocess.run(command, env={**os.environ, **(env or {})},
                            capture_output=quiet, text=True)
    if result.returncode != 0:
        if quiet:
            print(result.stdout + result.stderr, file=sys.stderr)
        sys.exit(f"bench: {' '.join(command[:3])} ... failed ({result.returncode})")


def need(tool, package):
    if shutil.which(tool) is None:
        sys.exit(f"bench: {tool} not found; install {package}")


def ensure_oha():
    """oha from crates.io, pinned; installed when missing or at another version."""
    found = shutil.which("oha")
    if found:
        version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
        if OHA_VERSION in version:
            return found
    step(f"installing oha {OHA_VERSION} (cargo install, a few minutes, once)")
    run(["cargo", "install", "oha", "--locked", "--version", OHA_VERSION])
    cargo_home = pathlib.Path(os.environ.get("CARGO_HOME", pathlib.Path.home() / ".cargo"))
    return shutil.which("oha") or str(cargo_home / "bin" / "oha")


def load_dotenv():
    """`just` loads .env; run directly, the harness reads it the same way (set values win)."""
    path = ROOT / ".env"
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line.strip())
        if match and match.group(1) not in os.environ:
            os.environ[match.group(1)] = match.group(2).strip().strip('"')


def cargo_metadata():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    return {"name": meta["packages"][0]["name"], "target_directory": meta["target_directory"]}


def read_variant():
    """The answers this service was rendered with (.template.toml)."""
    text = (ROOT / ".template.toml").read_text()
    redis = re.search(r"^redis = true", text, re.M) is not None
    webhooks = re.search(r"^webhooks = true", text, re.M) is not None
    return {(False, False): "minimal", (True, False): "redis",
            (False, True): "webhooks", (True, True): "full"}[(redis, webhooks)]


def git_commit():
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def machine():
    cpu = platform.processor()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for tool, command in [("rustc", ["rustc", "--version"]), ("oha", ["oha", "--version"]),
                          ("postgres", ["psql", "--version"])]:
        result = subprocess.run(command, capture_output=True, text=True)
        versions[tool] = result.stdout.strip() if result.returncode == 0 else None
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": memory,
            "os": f"{platform.system()} {platform.release()}", **versions,
            "note": "load generator, service, Postgres and Redis on the same machine"}


def rss_mib(pid):
    out = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True)
    if not out.stdout.strip():
        sys.exit(f"bench: process {pid} is gone; no memory figure to take")
    return round(int(out.stdout.strip()) / 1024, 1)


def database_name(url):
    return urllib.parse.urlsplit(url).path.lstrip("/")


def with_database(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_http(url, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    sys.exit(f"bench: {url} did not answer 200 within {seconds} s (see target/bench/*.log)")


def request(url, token, body=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            text = answer.read().decode()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as err:
        sys.exit(f"bench: {method or ('POST' if data else 'GET')} {url} answered {err.code}: "
                 f"{err.read().decode()}")


if __name__ == "__main__":
    main()
