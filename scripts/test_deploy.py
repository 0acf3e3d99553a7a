#!/usr/bin/env python3
"""Tests of the service's `just deploy` (template/scripts/deploy.py) with no cloud account.

usage: python3 scripts/test_deploy.py [FULL_DIR MINIMAL_DIR]

Without directories, renders the full and minimal variants with `scripts/kit.sh render` into a
temporary directory. Each service is copied, given the template's scripts/deploy.py (copied
verbatim by cargo-generate, so identical), and committed in a fresh git repository. Then:

- dry runs of every target: exit 0; every command numbered, phases in order (previous state,
  secrets, build, push, release, deploy, readiness, then the rollback under "on failed
  readiness"); the image tag is the commit; no secret value in the output, the secrets shown
  as *** in the here-document of what goes on stdin;
- refusals (exit 2, one clear line): each missing secret, an invalid or development value, a
  value that does not fit the target's NAME=VALUE lines, a dirty tree, an unknown target, a
  tagged DEPLOY_IMAGE, an unpushed commit (Render), no PyYAML, Python without tomllib; the
  redis variant needs REDIS_URL and minimal does not;
- real runs against fake CLIs first on PATH (they record their argv and stdin) and a local
  /readyz: the recorded calls equal the dry run's commands; no secret value is on any command
  line, and the secrets reach the fakes on stdin; a 503 (Kubernetes: a failed rollout) runs
  the rollback commands and exits 1; the first failing step stops the run.

Needs Python 3.11+ and PyYAML; exits non-zero on any failure.
"""
import http.server
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading

KIT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = KIT / "template" / "scripts" / "deploy.py"
TARGETS = ("fly", "render", "digitalocean", "kubernetes")
PHASES = ("previous", "secrets", "build", "push", "release", "deploy", "readiness", "rollback")
SECRETS = {
    "DATABASE_URL": "postgres://deployer:Db-S3cret-7f9c@db.internal:5432/task_svc",
    "JWT_SECRET": "Jwt-S3cret-0123456789abcdefghijklmnopqrstuv",
    "PASSWORD_PEPPERS": "1=Pepper-S3cret-0123456789ab",
    "REDIS_URL": "rediss://:Redis-S3cret-91ab@cache.internal:6379",
    "RENDER_API_KEY": "rnd_Render-S3cret-key-42",
}
# What each target needs from the environment, beyond the variant's own secrets.
NEEDS = {
    "fly": ["DATABASE_URL", "JWT_SECRET", "PASSWORD_PEPPERS"],
    "kubernetes": ["DATABASE_URL", "JWT_SECRET", "PASSWORD_PEPPERS"],
    # render.yaml: DATABASE_URL fromDatabase, REDIS_URL fromService, JWT_SECRET generateValue.
    "render": ["PASSWORD_PEPPERS", "RENDER_API_KEY"],
    # do-app.yaml: DATABASE_URL and REDIS_URL are bindings; the SECRET ones come from us.
    "digitalocean": ["JWT_SECRET", "PASSWORD_PEPPERS"],
}
STEP = re.compile(r"^\s*(\d+)\. \[(\w+)\]\s+(.*)$")
HEREDOC = "EOF"  # deploy.py prints a command's stdin as <<'EOF' ... EOF
NOTE = re.compile(r"^\s+\[(\w+)\]\s+-- ")


class Checks:
    def __init__(self):
        self.passed, self.failed = 0, []

    def __call__(self, condition, message, detail=""):
        if condition:
            self.passed += 1
        else:
            self.failed.append(message)
            print(f"FAIL: {message}" + (f"\n{detail}" if detail else ""))


check = Checks()


# --- services -----------------------------------------------------------------------------------


def sh(*args, cwd=None):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def render(variant, dest):
    subprocess.run([str(KIT / "scripts" / "kit.sh"), "render", variant, str(dest)], check=True,
                   stdout=subprocess.DEVNULL)
    return dest


def service(source, dest, remote=True):
    """A committed copy of a rendered service with the template's deploy.py."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("target", ".git"))
    (dest / "scripts").mkdir(exist_ok=True)
    shutil.copy(SCRIPT, dest / "scripts" / "deploy.py")
    sh("git", "init", "-q", cwd=dest)
    sh("git", "add", "-A", cwd=dest)
    sh("git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm",
       "release", cwd=dest)
    if remote:  # Render deploys a commit that a remote branch has
        sh("git", "update-ref", "refs/remotes/origin/main", "HEAD", cwd=dest)
    return dest


def run(svc, *args, env=None, drop=(), path=None, pythonpath=None):
    """deploy.py in SVC with a clean environment: the test secrets, minus DROP, plus ENV."""
    base = {k: os.environ[k] for k in ("HOME", "LANG", "TMPDIR") if k in os.environ}
    base["PATH"] = (f"{path}:" if path else "") + os.environ["PATH"]
    base.update({k: v for k, v in SECRETS.items() if k not in drop})
    base.update({"DEPLOY_READY_TIMEOUT": "2", "DEPLOY_READY_INTERVAL": "0.2"})
    if pythonpath:
        base["PYTHONPATH"] = pythonpath
    base.update(env or {})
    return subprocess.run([sys.executable, "scripts/deploy.py", *args], cwd=svc, env=base,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)


def leaks(result):
    out = result.stdout + result.stderr
    return [k for k, v in SECRETS.items() if v in out or v.split("S3cret")[1][:8] in out]


# --- reading a dry run --------------------------------------------------------------------------


def parse(stdout):
    """The plan's lines: dicts with number (None for notes), phase, line, heredoc."""
    steps, lines = [], stdout.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("on failed readiness"):
            steps.append({"number": None, "phase": "heading", "line": line, "heredoc": None})
        elif m := STEP.match(line):
            heredoc = None
            if f"<<'{HEREDOC}'" in line:
                end = lines.index(HEREDOC, i)
                heredoc, i = "\n".join(lines[i + 1:end]), end
            steps.append({"number": int(m[1]), "phase": m[2], "line": m[3], "heredoc": heredoc})
        elif m := NOTE.match(line):
            steps.append({"number": None, "phase": m[1], "line": line, "heredoc": None})
        i += 1
    return steps


def commands(step, values):
    """A printed step as argv lists, $NAMEs replaced by what the fake CLIs answered."""
    words = [w for w in shlex.split(step["line"], comments=True) if not w.startswith("<<")]
    words = [re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m[1], m[0]), w) for w in words]
    result, current = [], []
    for word in words + ["|"]:
        if word == "|":
            result.append(current)
            current = []
        else:
            current.append(word)
    return result


def expected_calls(steps, values, stubs, rollback):
    """The commands a real run must make, in order: the dry run's, without the ones deploy.py
    does itself (the /readyz poll) or that are real tools here (sed)."""
    calls = []
    for step in steps:
        if step["phase"] == "heading" and not rollback:
            break
        if step["number"] is None or "# polled by deploy.py" in step["line"]:
            continue
        calls += [argv for argv in commands(step, values) if argv[0] in stubs]
    return calls


# --- fake CLIs and a fake /readyz ----------------------------------------------------------------

STUB = """#!{python}
import json, os, sys
argv = [os.path.basename(sys.argv[0]), *sys.argv[1:]]
stdin = sys.stdin.read() if sys.stdin and not sys.stdin.isatty() else ""
log = os.environ["STUB_LOG"]
calls = [json.loads(line) for line in open(log)] if os.path.exists(log) else []
with open(log, "a") as f:
    f.write(json.dumps({{"argv": argv, "stdin": stdin}}) + "\\n")
for rule in json.load(open(os.environ["STUB_RULES"])):
    prefix = rule["argv"]
    if argv[:len(prefix)] != prefix:
        continue
    seen = 1 + sum(1 for c in calls if c["argv"][:len(prefix)] == prefix)
    if rule.get("nth", seen) != seen:
        continue
    sys.stdout.write(rule.get("stdout", ""))
    sys.exit(rule.get("exit", 0))
"""
STUBS = ("docker", "fly", "render", "doctl", "kubectl", "curl")


def make_stubs(directory):
    directory.mkdir()
    script = directory / "stub.py"
    script.write_text(STUB.format(python=sys.executable))
    script.chmod(0o755)
    for name in STUBS:
        (directory / name).symlink_to(script)
    return directory


class Readyz(http.server.BaseHTTPRequestHandler):
    code = 200

    def do_GET(self):
        ok = self.path == "/readyz"
        code = Readyz.code if ok else 404
        body = (b'{"status":"ready"}' if code == 200
                else b'{"status":"unavailable","failing":["postgres"]}')
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


KUSTOMIZED = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: task-svc
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/your-org/task-svc:0.1.0
        name: app
"""


def scenario(target, url):
    """Fake CLI answers (rules), the values the lookups yield, and extra environment."""
    if target == "fly":
        machines = [{"MachineID": m, "Registry": "registry.fly.io", "Repository": "task-svc",
                     "Tag": "0ldc0mm17000", "Digest": "sha256:00"} for m in ("m1", "m2")]
        rules = [{"argv": ["fly", "image", "show"], "stdout": json.dumps(machines)}]
        previous = {"PREVIOUS_IMAGE": "registry.fly.io/task-svc:0ldc0mm17000"}
        return rules, previous, {"DEPLOY_URL": url}
    if target == "render":
        services = [{"service": {"id": "srv-other", "name": "other"}},
                    {"service": {"id": "srv-test123", "name": "task-svc", "type": "web_service"}}]
        deploys = [{"deploy": {"id": "dep-new0", "status": "build_failed"}},
                   {"deploy": {"id": "dep-prev1", "status": "live"}}]
        rules = [{"argv": ["render", "services"], "stdout": json.dumps(services)},
                 {"argv": ["render", "deploys", "list"], "stdout": json.dumps(deploys)}]
        return rules, {"RENDER_SERVICE_ID": "srv-test123", "PREVIOUS_DEPLOY": "dep-prev1"}, \
            {"DEPLOY_URL": url}
    if target == "digitalocean":
        apps = [{"id": "app-0001", "spec": {"name": "task-svc"}, "live_url": url,
                 "active_deployment": {"id": "dep-0009"}}]
        rules = [{"argv": ["doctl", "apps", "list"], "stdout": json.dumps(apps)},
                 {"argv": ["doctl", "apps", "spec", "get"], "stdout": "name: task-svc\n"}]
        # No DEPLOY_URL: the app's live_url is probed.
        return rules, {"APP_ID": "app-0001", "PREVIOUS_DEPLOYMENT": "dep-0009", "LIVE_URL": url}, {}
    rules = [{"argv": ["kubectl", "get", "deployment"], "stdout": "3"},
             {"argv": ["kubectl", "kustomize"], "stdout": KUSTOMIZED},
             {"argv": ["kubectl", "create", "secret"], "stdout": "apiVersion: v1\nkind: Secret\n"}]
    return rules, {"PREVIOUS_REVISION": "3"}, {"DEPLOY_IMAGE": "ghcr.io/acme/task-svc"}


def real_run(svc, work, target, failure, name):
    """A real run against the fakes: (result, recorded calls, expected calls with and without
    the rollback). FAILURE: None, "readiness", or a rule making one command fail."""
    stubs = work / "stubs"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Readyz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        rules, values, env = scenario(target, url)
        Readyz.code = 200
        if failure == "readiness" and target == "kubernetes":
            rules.insert(0, {"argv": ["kubectl", "rollout", "status"], "nth": 1, "exit": 1})
        elif failure == "readiness":
            Readyz.code = 503
        elif failure:
            rules.insert(0, failure)
        log, rules_file = work / f"{name}.log", work / f"{name}.rules.json"
        rules_file.write_text(json.dumps(rules))
        env = {**env, "STUB_LOG": str(log), "STUB_RULES": str(rules_file)}
        dry = run(svc, target, "--dry-run", env=env, path=stubs)
        check(dry.returncode == 0, f"{name}: the dry run with fakes exits 0", dry.stderr)
        result = run(svc, target, env=env, path=stubs)
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        # ps and /proc/*/cmdline show every argument to every user: secrets go on stdin only.
        on_argv = sorted({k for c in calls for k, v in SECRETS.items()
                          if any(v in word for word in c["argv"])})
        check(not on_argv, f"{name}: no secret value on any command line ({on_argv})",
              "\n".join(shlex.join(c["argv"]) for c in calls))
        steps = parse(dry.stdout)
        return (result, calls, expected_calls(steps, values, STUBS, False),
                expected_calls(steps, values, STUBS, True))
    finally:
        server.shutdown()


# --- the tests ----------------------------------------------------------------------------------


def test_dry_runs(svc, variant):
    tag = sh("git", "rev-parse", "--short=12", "HEAD", cwd=svc)
    commit = sh("git", "rev-parse", "HEAD", cwd=svc)
    for target in TARGETS:
        name = f"{variant}/{target} --dry-run"
        r = run(svc, target, "--dry-run")
        check(r.returncode == 0, f"{name}: exits 0", r.stdout + r.stderr)
        check(not leaks(r), f"{name}: no secret value in the output ({leaks(r)})")
        check("***" in r.stdout, f"{name}: secrets shown as ***")
        steps = parse(r.stdout)
        phases = [s["phase"] for s in steps if s["phase"] != "heading"]
        ranks = [PHASES.index(p) for p in phases]
        check(ranks == sorted(ranks), f"{name}: phases in order, got {phases}")
        check(set(PHASES) - {"previous"} <= set(phases), f"{name}: every phase, got {phases}")
        numbers = [s["number"] for s in steps if s["number"] is not None]
        check(numbers == list(range(1, len(numbers) + 1)), f"{name}: steps numbered 1..N")
        heading = [i for i, s in enumerate(steps) if s["phase"] == "heading"]
        first_rollback = next(i for i, s in enumerate(steps) if s["phase"] == "rollback")
        check(len(heading) == 1 and heading[0] == first_rollback - 1
              and steps[heading[0]]["line"].startswith("on failed readiness"),
              f"{name}: the rollback comes under 'on failed readiness'")
        before = r.stdout.split("\n  1. ")[0]
        check("validate:" in before, f"{name}: validation is reported before the commands")
        by_phase = {}
        for s in steps:
            by_phase.setdefault(s["phase"], []).append(s)
        deploy = " ".join(s["line"] + (s["heredoc"] or "") for s in by_phase["deploy"])
        if target == "render":
            check(f"--commit {commit}" in deploy and commit.startswith(tag),
                  f"{name}: deploys the commit {tag}")
        else:
            build = by_phase["build"][0]["line"]
            check(re.fullmatch(rf"docker build -t \S+:{tag} \.", build),
                  f"{name}: the image tag is the commit {tag}: {build}")
            image = build.split()[3]
            check(any(f"docker push {image}" == s["line"] for s in by_phase["push"]),
                  f"{name}: pushes {image}")
            check(image in deploy or f"tag: {tag}" in deploy, f"{name}: deploys {image}")
        check_secret_sets(name, target, variant, by_phase)


def check_secret_sets(name, target, variant, by_phase):
    """fly and kubernetes get exactly the variant's secrets, as NAME=*** lines on stdin;
    REDIS_URL only in redis variants (the environment has it in every run). Render's calls
    carry the key and the value in curl's config on stdin."""
    if target == "render":
        for step in by_phase["secrets"]:
            check(" -K - " in step["line"] and step["heredoc"] ==
                  'header = "Authorization: Bearer ***"\ndata = "{\\"value\\":\\"***\\"}"',
                  f"{name}: the API key and the value go in curl's config on stdin",
                  f"{step['line']}\n{step['heredoc']}")
    if target not in ("fly", "kubernetes"):
        return
    step = by_phase["secrets"][0]
    command = {"fly": "fly secrets import --stage --app task-svc <<'EOF'",
               "kubernetes": "--from-env-file=/dev/stdin --dry-run=client -o yaml <<'EOF' |"}
    check(command[target] in step["line"] and "***" not in step["line"],
          f"{name}: the secrets are read from stdin", step["line"])
    names = re.findall(r"^(\w+)=\*\*\*$", step["heredoc"] or "", re.M)
    want = {"DATABASE_URL", "JWT_SECRET", "PASSWORD_PEPPERS"} | (
        {"REDIS_URL"} if variant == "full" else set())
    check(len(names) == len(step["heredoc"].splitlines()) and set(names) == want,
          f"{name}: sets exactly {sorted(want)}, got {names}")


def test_refusals(svc, variant):
    for target in TARGETS:
        needs = NEEDS[target] + (["REDIS_URL"] if variant == "full" and target in
                                 ("fly", "kubernetes") else [])
        for secret in needs:
            r = run(svc, target, "--dry-run", drop=[secret])
            lines = [ln for ln in r.stderr.splitlines() if secret in ln]
            check(r.returncode == 2 and len(lines) == 1 and "missing secret" in lines[0],
                  f"{variant}/{target} without {secret}: exit 2 and one line naming it",
                  r.stdout + r.stderr)
            check(not STEP.search(r.stdout) and not leaks(r),
                  f"{variant}/{target} without {secret}: runs nothing, leaks nothing")
    # The platforms that manage DATABASE_URL and REDIS_URL need neither from us.
    for target in ("render", "digitalocean"):
        r = run(svc, target, "--dry-run", drop=["DATABASE_URL", "REDIS_URL"])
        check(r.returncode == 0, f"{variant}/{target}: DATABASE_URL, REDIS_URL are managed",
              r.stderr)
    r = run(svc, "fly", "--dry-run", drop=["REDIS_URL"])
    if variant == "full":
        check(r.returncode == 2 and "REDIS_URL" in r.stderr, "full needs REDIS_URL", r.stderr)
    else:
        check(r.returncode == 0, "minimal does not need REDIS_URL", r.stderr)


def test_refusals_once(svc):
    """Refusals that do not depend on the variant (run on full)."""
    r = run(svc, "heroku", "--dry-run")
    check(r.returncode == 2 and all(t in r.stderr for t in TARGETS),
          "an unknown target is refused with the list of targets", r.stderr)
    for alias, target in (("k8s", "kubernetes"), ("do", "digitalocean"), ("fly.io", "fly")):
        r = run(svc, alias, "--dry-run")
        check(r.returncode == 0 and f"to {target}" in r.stdout, f"alias {alias} is {target}")
    example = dict(line.split("=", 1) for line in (svc / ".env.example").read_text().splitlines()
                   if "=" in line and not line.startswith("#"))
    r = run(svc, "fly", "--dry-run", env={"JWT_SECRET": example["JWT_SECRET"]})
    check(r.returncode == 2 and re.search(r"JWT_SECRET .*\.env\.example", r.stderr),
          "the development JWT_SECRET from .env.example is refused", r.stderr)
    r = run(svc, "kubernetes", "--dry-run", env={"JWT_SECRET": "too-short"})
    check(r.returncode == 2 and "JWT_SECRET must be at least 32 bytes" in r.stderr,
          "a short JWT_SECRET is refused", r.stderr)
    r = run(svc, "fly", "--dry-run", env={"PASSWORD_PEPPERS": "pepper-without-an-id-1234"})
    check(r.returncode == 2 and "PASSWORD_PEPPERS entry 1" in r.stderr,
          "malformed PASSWORD_PEPPERS are refused", r.stderr)
    # Values the platform's NAME=VALUE lines cannot carry unchanged: refused by that target only.
    jwt = SECRETS["JWT_SECRET"]
    for target, value, says in (
            ("kubernetes", f"{jwt[:20]}\n{jwt[20:]}", "JWT_SECRET must be one line"),
            ("fly", f"{jwt[:20]}\n{jwt[20:]}", "JWT_SECRET must be one line"),
            ("fly", f'"{jwt}"', "JWT_SECRET must not start with a quote"),
            ("fly", f"{jwt[:20]} #{jwt[20:]}", "JWT_SECRET must not contain a space before #")):
        r = run(svc, target, "--dry-run", env={"JWT_SECRET": value})
        check(r.returncode == 2 and says in r.stderr and jwt[12:24] not in r.stdout + r.stderr,
              f"{target}: a JWT_SECRET its stdin lines cannot carry is refused ({says})",
              r.stdout + r.stderr)
    for target, value in (("kubernetes", f'"{jwt}"'), ("digitalocean", f"{jwt[:20]}\n{jwt[20:]}")):
        r = run(svc, target, "--dry-run", env={"JWT_SECRET": value})
        check(r.returncode == 0, f"{target} takes a JWT_SECRET that fly refuses", r.stderr)
    r = run(svc, "fly", "--dry-run", env={"DEPLOY_IMAGE": "ghcr.io/acme/task-svc:v1"})
    check(r.returncode == 2 and "without a tag" in r.stderr, "a tagged DEPLOY_IMAGE is refused")
    # A dirty tree: an untracked file, then a changed one.
    stray = svc / "stray.txt"
    stray.write_text("x")
    r = run(svc, "fly", "--dry-run")
    check(r.returncode == 2 and "not clean" in r.stderr and "stray.txt" in r.stderr,
          "an untracked file makes the tree dirty: refused", r.stderr)
    stray.unlink()
    readme = svc / "README.md"
    original = readme.read_text()
    readme.write_text(original + "\nchanged\n")
    r = run(svc, "kubernetes", "--dry-run")
    check(r.returncode == 2 and "not clean" in r.stderr, "a changed file: refused", r.stderr)
    readme.write_text(original)
    check(run(svc, "fly", "--dry-run").returncode == 0, "clean again: accepted")
    # Render builds from the remote: an unpushed commit is refused.
    sh("git", "update-ref", "-d", "refs/remotes/origin/main", cwd=svc)
    r = run(svc, "render", "--dry-run")
    check(r.returncode == 2 and "git push" in r.stderr, "render: an unpushed commit is refused")
    sh("git", "update-ref", "refs/remotes/origin/main", "HEAD", cwd=svc)
    # Without PyYAML the YAML targets say how to install it; fly (TOML) does not need it.
    with tempfile.TemporaryDirectory() as no_yaml:
        pathlib.Path(no_yaml, "yaml.py").write_text("raise ImportError('no yaml here')\n")
        r = run(svc, "render", "--dry-run", pythonpath=no_yaml)
        check(r.returncode == 2 and "pip install pyyaml==6.0.2" in r.stderr,
              "without PyYAML: a clear error telling how to install it", r.stderr)
        r = run(svc, "fly", "--dry-run", pythonpath=no_yaml)
        check(r.returncode == 0, "fly needs no PyYAML", r.stderr)
    # Python 3.10 has no tomllib: one clear line, exit 2, for a deploy and for validate.
    with tempfile.TemporaryDirectory() as old_python:
        pathlib.Path(old_python, "tomllib.py").write_text(
            "raise ModuleNotFoundError(\"No module named 'tomllib'\")\n")
        for args in (("fly", "--dry-run"), ("validate",)):
            r = run(svc, *args, pythonpath=old_python)
            check(r.returncode == 2 and "needs Python 3.11+" in r.stderr
                  and len(r.stderr.splitlines()) == 1 and not r.stdout,
                  f"without tomllib, {' '.join(args)} says it needs Python 3.11+",
                  r.stdout + r.stderr)


def test_not_a_repository(source, work):
    copy = work / "no-git"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("target", ".git"))
    (copy / "scripts").mkdir(exist_ok=True)
    shutil.copy(SCRIPT, copy / "scripts" / "deploy.py")
    r = run(copy, "fly", "--dry-run")
    check(r.returncode == 2 and "git" in r.stderr, "a service that is not committed: refused",
          r.stderr)


def test_real_runs(svc, work, variant):
    for target in TARGETS:
        name = f"{variant}/{target}"
        label = name.replace("/", "-")
        result, calls, expected, _ = real_run(svc, work, target, None, f"{label}-ok")
        recorded = [c["argv"] for c in calls]
        check(result.returncode == 0 and "deployed and ready" in result.stdout,
              f"{name}: a real run against fakes exits 0", result.stdout + result.stderr)
        check(recorded == expected, f"{name}: the calls made equal the dry run's commands",
              "\n".join(["recorded:", *map(shlex.join, recorded), "expected:",
                         *map(shlex.join, expected)]))
        check(not leaks(result), f"{name}: the real run prints no secret value ({leaks(result)})")
        check_stdin(name, target, variant, svc, calls)

        result, calls, _, with_rollback = real_run(svc, work, target, "readiness", f"{label}-503")
        recorded = [c["argv"] for c in calls]
        if target == "render":
            fed = [c["stdin"] for c in calls if c["argv"][0] == "curl" and "POST" in c["argv"]]
            check(fed == [f'header = "Authorization: Bearer {SECRETS["RENDER_API_KEY"]}"\n'],
                  f"{name}: the rollback's curl reads the API key from stdin", repr(fed))
        check(result.returncode == 1 and "rolled back" in result.stderr,
              f"{name}: failed readiness rolls back and exits 1", result.stdout + result.stderr)
        check(recorded == with_rollback,
              f"{name}: the rollback runs the dry run's rollback commands",
              "\n".join(["recorded:", *map(shlex.join, recorded), "expected:",
                         *map(shlex.join, with_rollback)]))


def check_stdin(name, target, variant, svc, calls):
    """What the fakes were fed: the new image and the real secrets, on stdin."""
    tag = sh("git", "rev-parse", "--short=12", "HEAD", cwd=svc)
    names = ["DATABASE_URL", "JWT_SECRET", "PASSWORD_PEPPERS"] + (
        ["REDIS_URL"] if variant == "full" else [])
    lines = "".join(f"{k}={SECRETS[k]}\n" for k in names)
    if target == "fly":
        fed = [c["stdin"] for c in calls if c["argv"][:3] == ["fly", "secrets", "import"]]
        check(fed == [lines], f"{name}: fly secrets import reads NAME=VALUE lines", repr(fed))
    if target == "render":
        fed = [c["stdin"] for c in calls if c["argv"][0] == "curl"]
        body = json.dumps({"value": SECRETS["PASSWORD_PEPPERS"]}, separators=(",", ":"))
        body = body.replace('"', '\\"')  # a double-quoted string of curl's config
        config = (f'header = "Authorization: Bearer {SECRETS["RENDER_API_KEY"]}"\n'
                  f'data = "{body}"\n')
        check(fed == [config], f"{name}: curl reads the key and the value from stdin", repr(fed))
    if target == "kubernetes":
        fed = [c["stdin"] for c in calls if c["argv"][:3] == ["kubectl", "create", "secret"]]
        check(fed == [lines], f"{name}: kubectl reads the Secret as an env file", repr(fed))
        applied = [c["stdin"] for c in calls if c["argv"][:3] == ["kubectl", "apply", "-f"]
                   and c["argv"][3:] == ["-"]]
        new = f"image: ghcr.io/acme/task-svc:{tag}"
        check(sum(new in s for s in applied) == 2 and not any(":0.1.0" in s for s in applied),
              f"{name}: the Job and the Deployment are applied with {new}")
    if target == "digitalocean":
        spec = next(c["stdin"] for c in calls if c["argv"][:3] == ["doctl", "apps", "update"])
        check(f"tag: {tag}" in spec and "github" not in spec
              and SECRETS["JWT_SECRET"] in spec and SECRETS["PASSWORD_PEPPERS"] in spec,
              f"{name}: the spec deploys the image {tag} with the secrets filled in")


def test_failures(svc, work):
    result, calls, expected, _ = real_run(
        svc, work, "fly", {"argv": ["docker", "build"], "exit": 1}, "fly-build-fails")
    recorded = [c["argv"] for c in calls]
    build = next(i for i, argv in enumerate(expected) if argv[:2] == ["docker", "build"])
    check(result.returncode == 1 and recorded == expected[:build + 1],
          "a failing build stops the run: nothing after it, no rollback",
          "\n".join(map(shlex.join, recorded)))
    result, calls, expected, _ = real_run(
        svc, work, "digitalocean", {"argv": ["doctl", "apps", "update"], "exit": 1},
        "do-deploy-fails")
    recorded = [c["argv"] for c in calls]
    update = next(i for i, argv in enumerate(expected) if argv[:3] == ["doctl", "apps", "update"])
    check(result.returncode == 1 and recorded == expected[:update + 1]
          and "previous release keeps serving" in result.stderr,
          "App Platform: a failed deployment is not rolled back (the old one still serves)",
          result.stderr)
    result, calls, expected, with_rollback = real_run(
        svc, work, "fly", {"argv": ["fly", "deploy"], "nth": 1, "exit": 1}, "fly-deploy-fails")
    recorded = [c["argv"] for c in calls]
    deploy = next(i for i, argv in enumerate(expected) if argv[:2] == ["fly", "deploy"])
    rollback = with_rollback[len(expected):]
    check(result.returncode == 1 and recorded == expected[:deploy + 1] + rollback,
          "fly: a failed deploy (machines may be half replaced) rolls back",
          "\n".join(map(shlex.join, recorded)))


def test_validate(svc):
    """`deploy.py validate` (gate 4): every manifest, no secrets, no git; a broken one is named."""
    r = run(svc, "validate", drop=("JWT_SECRET", "PASSWORD_PEPPERS", "DATABASE_URL"))
    check(r.returncode == 0 and all(f"{t}: deploy/" in r.stdout for t in TARGETS),
          "validate: every target's manifest passes without secrets", r.stdout + r.stderr)
    fly = svc / "deploy" / "fly.toml"
    kept = fly.read_text()
    fly.write_text(kept.replace(" migrate\"", " serve\""))
    r = run(svc, "validate")
    fly.write_text(kept)
    check(r.returncode == 2 and "release_command must run `migrate`" in r.stderr,
          "validate: a release step that does not migrate is refused", r.stdout + r.stderr)


def main():
    with tempfile.TemporaryDirectory(prefix="test-deploy-") as tmp:
        work = pathlib.Path(tmp)
        if len(sys.argv) == 3:
            sources = {"full": pathlib.Path(sys.argv[1]), "minimal": pathlib.Path(sys.argv[2])}
        else:
            sources = {v: render(v, work / "render" / v) for v in ("full", "minimal")}
        make_stubs(work / "stubs")
        services = {v: service(src, work / v) for v, src in sources.items()}
        for variant, svc in services.items():
            test_dry_runs(svc, variant)
            test_refusals(svc, variant)
        test_refusals_once(services["full"])
        test_validate(services["full"])
        test_not_a_repository(sources["minimal"], work)
        test_real_runs(services["full"], work, "full")
        test_real_runs(services["minimal"], work, "minimal")
        test_failures(services["full"], work)
    if check.failed:
        print(f"deploy dry-run: {len(check.failed)} of {check.passed + len(check.failed)} checks "
              "failed")
        return 1
    print(f"deploy dry-run: {check.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
