#!/usr/bin/env python3
"""The API against its own OpenAPI document: `just contract`.

Starts the service on a scratch database (on the server DATABASE_URL names), registers and
logs in a real user, and runs Schemathesis (pinned below, installed once into
target/contract/venv) with every check against the running service: each operation gets
schema-valid requests it must accept, schema-invalid ones it must refuse with a 4xx, and
every response must match what the document says (status, headers, body, media type, SSE
events). The logout operations are left out: one of them would end the run's own session.

The few rules no JSON Schema can state (an opaque cursor the server did not issue, two
parameters that exclude each other) are listed with their reasons in contract.toml;
everything else the server enforces must be in the document, or this fails.
"""

import json
import os
import pathlib
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

SCHEMATHESIS_VERSION = "4.32.5"
ROOT = pathlib.Path(__file__).resolve().parent.parent
WORK = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "contract"
VENV = WORK / f"venv-{SCHEMATHESIS_VERSION}"
# Generated requests per operation and phase: enough to find a missing rule, a few minutes
# per run. A fixed seed makes a failure reproducible; CONTRACT_SEED varies it.
MAX_EXAMPLES = os.environ.get("CONTRACT_MAX_EXAMPLES", "15")
SEED = os.environ.get("CONTRACT_SEED", "20261204")


def main():
    load_dotenv()
    base = os.environ.get("DATABASE_URL")
    if not base:
        sys.exit("contract: DATABASE_URL is not set (copy .env.example to .env)")
    schemathesis = ensure_schemathesis()
    step("building the service")
    binary = build()
    db_url = with_database(base, f"contract_{os.getpid()}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = None
    try:
        env = service_env(db_url, port)
        service = start(binary, env)
        wait_ready(url, service)
        token = log_in(url, binary, env)
        step(f"schemathesis {SCHEMATHESIS_VERSION}: every check, every operation but logout")
        code = subprocess.run(
            [
                str(schemathesis), "--config-file", str(ROOT / "contract.toml"), "run",
                f"{url}/openapi.json",
                "--checks", "all",
                "--header", f"Authorization: Bearer {token}",
                "--exclude-path-regex", "logout",
                "--max-examples", MAX_EXAMPLES,
                "--seed", SEED,
                "--generation-database", "none",
                "--workers", "2",
                "--no-color",
            ],
            cwd=WORK,
        ).returncode
    finally:
        if service is not None:
            stop(service)
        drop_database(db_url)
    sys.exit(code)


def ensure_schemathesis():
    tool = VENV / "bin" / "schemathesis"
    if not tool.exists():
        step(f"installing schemathesis {SCHEMATHESIS_VERSION} into {rel(VENV)} (once)")
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                        f"schemathesis=={SCHEMATHESIS_VERSION}"], check=True)
    return tool


def build():
    output = subprocess.run(
        ["cargo", "build", "--locked", "--message-format", "json-render-diagnostics"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
    ).stdout
    for line in output.splitlines():
        message = json.loads(line)
        if message.get("executable") and "bin" in message["target"]["kind"]:
            return message["executable"]
    sys.exit("contract: cargo built no binary")


def service_env(db_url, port):
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DATABASE_CREATE_IF_MISSING": "true",
        "DATABASE_MIGRATE": "true",
        "APP_ADDR": f"127.0.0.1:{port}",
        # The run is one client sending thousands of requests: limits that would answer it
        # with 429 would hide every other answer.
        "RATE_LIMIT_PER_SECOND": "100000",
        "RATE_LIMIT_BURST": "100000",
        "AUTH_RATE_LIMIT_PER_MINUTE": "100000",
        "AUTH_RATE_LIMIT_BURST": "100000",
        # Real Argon2id, at the smallest cost the config accepts: registrations are many.
        "PASSWORD_HASH_MEMORY_KIB": "1024",
        "PASSWORD_HASH_ITERATIONS": "1",
        "JWT_ACCESS_TTL_SECS": "3600",
        "MAIL_TRANSPORT": "log",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "warn",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    }
    env.setdefault("JWT_SECRET", secrets.token_hex(32))
    env.setdefault("PASSWORD_PEPPERS", f"1={secrets.token_hex(16)}")
    return env


def start(binary, env):
    log = open(WORK / "service.log", "w")
    return subprocess.Popen([binary], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_ready(url, service, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if service.poll() is not None:
            sys.exit(f"contract: the service exited ({service.returncode}); see {rel(WORK / 'service.log')}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    sys.exit(f"contract: the service was not ready within {seconds} s; see {rel(WORK / 'service.log')}")


def log_in(url, binary, env):
    """An admin (admins may do all users may), so the admin operations are tested too: the
    service refuses an admin's changes to their own account, so the run cannot lock itself
    out."""
    email = f"contract-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(18)
    post(f"{url}/auth/register", {"email": email, "password": password, "display_name": "Contract"})
    subprocess.run([binary, "grant-admin", email], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return post(f"{url}/auth/login", {"email": email, "password": password})["access_token"]


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def stop(service):
    try:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(service.pid, signal.SIGKILL)
        service.wait()
    except ProcessLookupError:
        pass


def drop_database(url):
    name = url.rsplit("/", 1)[1]
    subprocess.run(["psql", with_database(url, "postgres"), "-q", "-c",
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                   stdout=subprocess.DEVNULL, check=False)


def with_database(url, name):
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_dotenv():
    path = ROOT / ".env"
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line.strip())
        if match and match.group(1) not in os.environ:
            os.environ[match.group(1)] = match.group(2).strip().strip('"')


def rel(path):
    try:
        return str(pathlib.Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


def step(text):
    print(f"==> {text}", flush=True)


if __name__ == "__main__":
    main()
