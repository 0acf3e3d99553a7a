#!/usr/bin/env python3
"""Deploy this service: `just deploy TARGET [--dry-run]` (course day 33, docs/runbook.md).

usage: scripts/deploy.py TARGET [--dry-run] [--timeout SECONDS] [--interval SECONDS]
       scripts/deploy.py validate     (every target's manifest, nothing else: `just gate 4`)

TARGET is fly, render, digitalocean or kubernetes (also: fly.io, do, k8s, kube). One command
does, in order:

  1. validate: the target's manifest under deploy/ parses, names this project, runs `migrate`
     as its release step and probes /readyz; the git tree is clean, because the image tag is
     the commit (`git rev-parse --short=12 HEAD`);
  2. secrets: the ones the service needs in production are in this process's environment
     (never read from a file) and look valid; they are set the platform's way;
  3. build and 4. push the image;
  5. the release step runs the migrations with the new image, once;
  6. deploy; 7. wait until <public URL>/readyz answers 200;
  8. when it never does, roll back to the release captured before deploying, and exit 1.

`--dry-run` prints every command instead, numbered and copy-pasteable, secret values shown as
***, without running anything (the validation, which only reads files and git, still runs).
Secret values never go on a command line, where `ps` shows them to every user of the machine:
each platform's command reads them on its stdin (the dry run prints that as a here-document).

Environment: the secrets (SECRETS below); DEPLOY_IMAGE, the image repository without a tag
(default per target); DEPLOY_URL, the public base URL probed at /readyz (default per target);
DEPLOY_READY_TIMEOUT and DEPLOY_READY_INTERVAL, seconds (or --timeout, --interval);
DEPLOY_MIGRATE_TIMEOUT, seconds for Kubernetes' migration Job; RENDER_API_KEY and, optionally,
RENDER_SERVICE_ID for Render.

Exit status: 0 deployed and ready; 1 a step failed, or readiness failed (after the rollback);
2 bad usage, or validation failed before anything ran.

Needs Python 3.11+ (tomllib reads Cargo.toml, .template.toml and deploy/fly.toml): an older
Python gets that message and exit 2. Python's standard library only, plus PyYAML for the YAML
manifests. cargo-generate copies this file verbatim: it reads the project name from Cargo.toml
and the variant from .template.toml.
"""
import argparse
import copy
import dataclasses
import json
import math
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Callable

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: main() says what is needed
    tomllib = None

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The canonical names, in the order they are listed, and the aliases people type.
TARGETS = ("fly", "render", "digitalocean", "kubernetes")
ALIASES = {"fly.io": "fly", "flyio": "fly", "do": "digitalocean", "k8s": "kubernetes",
           "kube": "kubernetes"}
RENDER_API = "https://api.render.com/v1"
PYYAML_HINT = "pip install pyyaml==6.0.2"
HEREDOC = "EOF"  # ends the here-document that shows a command's stdin in the plan


class Invalid(Exception):
    """Validation failed before anything ran (exit 2); each argument is one line."""


class Failed(Exception):
    """A command or the readiness wait failed (exit 1)."""


# --- secrets ----------------------------------------------------------------------------------
# What src/config.rs requires in production, or reads as a secret when set (.env.example says
# which). Each check mirrors config.rs, so a deploy fails here instead of in a crash-looping
# release; no message ever contains the value.


def scheme(*schemes):
    prefixes = tuple(f"{s}://" for s in schemes)
    return lambda v: None if v.startswith(prefixes) else (
        "must start with " + " or ".join(prefixes) + " (value hidden)")


def at_least(n):
    return lambda v: None if len(v.encode()) >= n else f"must be at least {n} bytes (value hidden)"


def peppers(value):
    for index, entry in enumerate(value.split(","), 1):
        pepper_id, _, secret = entry.strip().partition("=")
        if not (pepper_id.strip().isdigit() and int(pepper_id) > 0 and len(secret.strip()) >= 16):
            return (f"entry {index} is not `id=secret` with a positive id and a secret of at "
                    "least 16 bytes (value hidden)")
    return None


def one_line(value):
    """`kubectl create secret --from-env-file` reads NAME=VALUE lines: no newline fits."""
    return "must be one line (value hidden)" if "\n" in value or "\r" in value else None


def fly_import_line(value):
    """`fly secrets import` reads NAME=VALUE lines too and, depending on flyctl's version,
    drops quotes around a value, reads three double quotes as the start of a multi-line one,
    cuts a trailing ` # comment` and stops at a line over 64 KiB: a value it would change is
    refused, not quoted (no quoting means the same to every version)."""
    if one_line(value):
        return one_line(value)
    if value[0] in "\"'":
        return "must not start with a quote: `fly secrets import` strips it (value hidden)"
    if re.search(r"\s#", value):
        return ("must not contain a space before #: `fly secrets import` may read a comment "
                "(value hidden)")
    if len(value.encode()) > 60_000:
        return "must be under 60 KB for `fly secrets import` (value hidden)"
    return None


# How each target reads the secrets it takes on stdin as NAME=VALUE lines.
LINE_FORMATS = {"fly": fly_import_line, "kubernetes": one_line}


def inbound_secrets(value):
    for index, entry in enumerate(value.split(","), 1):
        source, _, secret = entry.strip().partition("=")
        if not source.strip() or not secret.strip().startswith("whsec_"):
            return f"entry {index} is not `source=whsec_...` (value hidden)"
    return None


@dataclasses.dataclass(frozen=True)
class SecretSpec:
    name: str
    check: Callable[[str], str | None]
    hint: str
    required: bool = True
    variant: str | None = None  # "redis" or "webhooks": only that variant has it


SECRETS = (
    SecretSpec("DATABASE_URL", scheme("postgres", "postgresql"),
               "the production Postgres, postgres://USER:PASSWORD@HOST:5432/DB"),
    SecretSpec("JWT_SECRET", at_least(32),
               "the HMAC key of access tokens, e.g. `openssl rand -base64 48`"),
    SecretSpec("PASSWORD_PEPPERS", peppers,
               "id=secret pairs mixed into password hashes, e.g. 1=$(openssl rand -base64 32)"),
    SecretSpec("REDIS_URL", scheme("redis", "rediss"),
               "the production Redis, redis://HOST:6379", variant="redis"),
    SecretSpec("SMTP_URL", scheme("smtp", "smtps"),
               "sends email when MAIL_TRANSPORT=smtp", required=False),
    SecretSpec("WEBHOOK_INBOUND_SECRETS", inbound_secrets,
               "source=whsec_... pairs for inbound webhooks", required=False, variant="webhooks"),
)
# Credentials of the deploy itself, not of the service; hidden the same way.
CREDENTIALS = {
    "render": (SecretSpec("RENDER_API_KEY", lambda v: None,
                          "Render's API key (Account Settings > API Keys), for the CLI and API"),),
}


# --- the project ------------------------------------------------------------------------------


@dataclasses.dataclass
class Project:
    name: str
    redis: bool
    webhooks: bool
    commit: str = ""
    tag: str = ""

    @property
    def variant(self):
        return {(True, True): "full", (True, False): "redis",
                (False, True): "webhooks"}.get((self.redis, self.webhooks), "minimal")


def load_project():
    """The project name (Cargo.toml) and variant (.template.toml): this file is not rendered."""
    try:
        name = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["name"]
        values = tomllib.loads((ROOT / ".template.toml").read_text()).get("values", {})
    except (OSError, KeyError, tomllib.TOMLDecodeError) as err:
        raise Invalid("cannot read the project name and variant (Cargo.toml, .template.toml): "
                      f"{err}")
    return Project(name, bool(values.get("redis")), bool(values.get("webhooks")))


def git(*args):
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise Invalid(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def check_tree(project):
    """The image is built from the working tree but tagged with the commit: both must agree."""
    if shutil.which("git") is None:
        return ["git is not installed: the image tag is the commit"]
    try:
        project.commit = git("rev-parse", "HEAD")
        project.tag = git("rev-parse", "--short=12", "HEAD")
        changes = git("status", "--porcelain", "--untracked-files=all", "--", ".").splitlines()
    except Invalid as err:
        return [f"not a committed git repository ({err}): the image tag is the commit"]
    if changes:
        shown = ", ".join(line[3:] for line in changes[:3]) + (", ..." if len(changes) > 3 else "")
        return [f"the git tree is not clean ({len(changes)} changed: {shown}): commit or stash "
                "first, the image is tagged with the commit"]
    return []


def dotenv(path):
    """KEY=VALUE lines of .env-style files, to recognise values that came from them."""
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.lstrip().startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    return values


def check_secrets(project, needed, optional, credentials, line_format=None):
    """One line per missing or invalid secret. `just` loads .env into every recipe, so a value
    equal to the one in .env or .env.example came from a file: refused. `line_format` checks
    the service's secrets fit the NAME=VALUE lines the target reads them from."""
    problems = []
    files = {".env": dotenv(ROOT / ".env"), ".env.example": dotenv(ROOT / ".env.example")}
    for spec in (*needed, *optional, *credentials):
        value = os.environ.get(spec.name, "").strip()
        if not value:
            if spec in needed or spec in credentials:
                problems.append(f"missing secret: {spec.name} is not set in this environment "
                                f"({spec.hint})")
            continue
        for file, values in files.items():
            if spec.name in values and values[spec.name] == value:
                problems.append(f"{spec.name} has the value from {file} (`just` loads .env): set "
                                "the production value in the deploy environment")
                break
        else:
            problem = spec.check(value)
            if not problem and line_format and spec not in credentials:
                problem = line_format(value)
            if problem:
                problems.append(f"{spec.name} {problem}")
    return problems


def service_secrets(project):
    """The secrets this variant has: (required, optional)."""
    mine = [s for s in SECRETS if s.variant is None or getattr(project, s.variant)]
    return [s for s in mine if s.required], [s for s in mine if not s.required]


# --- manifests --------------------------------------------------------------------------------


def load_yaml(relative):
    try:
        import yaml
    except ImportError:
        raise Invalid(f"PyYAML is needed to read {relative}: {PYYAML_HINT}")
    try:
        docs = [d for d in yaml.safe_load_all((ROOT / relative).read_text()) if d is not None]
    except (OSError, yaml.YAMLError) as err:
        raise Invalid(f"{relative} does not parse: {err}")
    if not docs:
        raise Invalid(f"{relative} is empty")
    return docs[0]


def load_toml(relative):
    try:
        return tomllib.loads((ROOT / relative).read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise Invalid(f"{relative} does not parse: {err}")


def runs_migrate(command, name):
    """`/usr/local/bin/NAME migrate` (a string or an argv): the binary's release step."""
    words = shlex.split(command) if isinstance(command, str) else list(command or [])
    return len(words) >= 2 and words[-1] == "migrate" and pathlib.PurePath(words[-2]).name == name


@dataclasses.dataclass
class Target:
    """What validating a target's manifest established."""
    name: str
    manifest: str
    release: str                  # how the release step runs, for the plan's note
    image: str | None = None      # repository, no tag; None when the platform builds (Render)
    url: str | None = None        # public base URL; None when looked up (DigitalOcean)
    managed: dict = dataclasses.field(default_factory=dict)  # secret -> how the platform sets it
    data: dict = dataclasses.field(default_factory=dict)
    problems: list = dataclasses.field(default_factory=list)


def expect(target, condition, problem):
    if not condition:
        target.problems.append(f"{target.manifest}: {problem}")


def validate_fly(project):
    t = Target("fly", "deploy/fly.toml", "")
    fly = t.data = load_toml(t.manifest)
    release = fly.get("deploy", {}).get("release_command", "")
    t.release = f"release_command `{release}`"
    expect(t, fly.get("app") == project.name,
           f"app is {fly.get('app')!r}, not the project's name {project.name!r}")
    expect(t, runs_migrate(release, project.name), "[deploy] release_command must run `migrate`")
    checks = fly.get("http_service", {}).get("checks", [])
    expect(t, any(c.get("path") == "/readyz" for c in checks),
           "http_service.checks must probe /readyz")
    t.image = os.environ.get("DEPLOY_IMAGE") or f"registry.fly.io/{project.name}"
    t.url = os.environ.get("DEPLOY_URL") or f"https://{project.name}.fly.dev"
    return t


def platform_secrets(t, envs, required, how):
    """Sorts a manifest's env entries of secrets into managed by the platform (`how` says how,
    or None when the value comes from us) and checks every required one is given somehow."""
    declared = {}
    for env in envs:
        key = env.get("key")
        if key in {s.name for s in SECRETS}:
            declared[key] = how(env)
    for spec in required:
        expect(t, spec.name in declared, f"gives the service no {spec.name}")
    t.managed = {k: v for k, v in declared.items() if v}


def validate_render(project, required):
    t = Target("render", "deploy/render.yaml", "")
    blueprint = t.data = load_yaml(t.manifest)
    webs = [s for s in blueprint.get("services", []) if s.get("type") == "web"]
    expect(t, len(webs) == 1, f"expected one service of type web, found {len(webs)}")
    web = webs[0] if webs else {}
    t.release = f"preDeployCommand `{web.get('preDeployCommand', '')}`"
    expect(t, web.get("name") == project.name,
           f"the web service is {web.get('name')!r}, not the project's name {project.name!r}")
    expect(t, web.get("runtime") == "docker",
           "the web service must use runtime: docker (deploy.py deploys a commit)")
    expect(t, web.get("healthCheckPath") == "/readyz", "healthCheckPath must be /readyz")
    expect(t, runs_migrate(web.get("preDeployCommand", ""), project.name),
           "preDeployCommand must run `migrate`")

    def how(env):
        if "fromDatabase" in env:
            return f"fromDatabase {env['fromDatabase'].get('name')}"
        if "fromService" in env:
            return f"fromService {env['fromService'].get('name')}"
        if env.get("generateValue"):
            return "generateValue: Render generates it once"
        expect(t, "value" not in env, f"{env['key']} holds a value: secrets never go in this file")
        return None  # sync: false, set from this environment
    platform_secrets(t, web.get("envVars", []), required, how)
    t.url = os.environ.get("DEPLOY_URL") or f"https://{project.name}.onrender.com"
    return t


def check_pushed():
    """Render builds the commit from the linked repository: it must be pushed already."""
    remote = subprocess.run(["git", "branch", "-r", "--contains", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    return [] if remote else ["Render builds the commit from the linked repository, and no "
                              "remote branch known here contains HEAD: push it first (git push)"]


def validate_digitalocean(project, required):
    t = Target("digitalocean", "deploy/do-app.yaml", "")
    spec = t.data = load_yaml(t.manifest)
    expect(t, spec.get("name") == project.name,
           f"name is {spec.get('name')!r}, not the project's name {project.name!r}")
    jobs = [j for j in spec.get("jobs", []) if j.get("kind") == "PRE_DEPLOY"]
    expect(t, any(runs_migrate(j.get("run_command", ""), project.name) for j in jobs),
           "needs a job of kind PRE_DEPLOY whose run_command runs `migrate`")
    t.release = "the PRE_DEPLOY job " + ", ".join(f"{j.get('name')} (`{j.get('run_command')}`)"
                                                  for j in jobs)
    services = spec.get("services", [])
    expect(t, len(services) == 1, f"expected one service, found {len(services)}")
    service = services[0] if services else {}
    expect(t, service.get("health_check", {}).get("http_path") == "/readyz",
           "the service's health_check.http_path must be /readyz")

    def how(env):
        value = str(env.get("value", ""))
        if value.startswith("${"):
            return f"bound by App Platform to {value}"
        expect(t, env.get("type") == "SECRET" and not value,
               f"{env['key']} must be type: SECRET with no value: it is filled in at deploy time")
        return None
    platform_secrets(t, service.get("envs", []), required, how)
    t.image = (os.environ.get("DEPLOY_IMAGE")
               or f"registry.digitalocean.com/{project.name}/{project.name}")
    t.url = os.environ.get("DEPLOY_URL")  # else the app's live URL, looked up
    try:
        do_image_source(t.image, "tag")
    except Invalid as err:
        t.problems.append(str(err))
    return t


def validate_kubernetes(project):
    t = Target("kubernetes", "deploy/k8s/", "")
    kustomization = load_yaml("deploy/k8s/kustomization.yaml")
    deployment = load_yaml("deploy/k8s/deployment.yaml")
    job = load_yaml("deploy/k8s/migrate-job.yaml")
    images = [i for i in kustomization.get("images", []) if i.get("name") == project.name]
    expect(t, len(images) == 1, f"kustomization.yaml needs an images entry named {project.name}")
    current = f"{images[0].get('newName')}:{images[0].get('newTag')}" if images else ""
    expect(t, deployment.get("metadata", {}).get("name") == project.name,
           f"deployment.yaml: the Deployment must be named {project.name}")
    pod = deployment.get("spec", {}).get("template", {}).get("spec", {})
    probes = [c.get("readinessProbe", {}).get("httpGet", {}).get("path")
              for c in pod.get("containers", [])]
    expect(t, "/readyz" in probes, "deployment.yaml: the readinessProbe must probe /readyz")
    expect(t, job.get("metadata", {}).get("name") == f"{project.name}-migrate",
           f"migrate-job.yaml: the Job must be named {project.name}-migrate")
    migrate = (job.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}])[0]
    expect(t, migrate.get("args") == ["migrate"], "migrate-job.yaml: the Job must run `migrate`")
    # deploy.py swaps this one image for the new one in both files (sed), so they must agree.
    expect(t, migrate.get("image") == current,
           f"migrate-job.yaml's image {migrate.get('image')!r} must equal kustomization.yaml's "
           f"{current!r}: deploy.py replaces that image with the new one in both")
    t.release = f"the Job {project.name}-migrate (deploy/k8s/migrate-job.yaml) with the new image"
    t.data = {"current_image": current}
    t.image = os.environ.get("DEPLOY_IMAGE") or (images[0].get("newName") if images else "")
    t.url = os.environ.get("DEPLOY_URL")  # optional: readiness is `kubectl rollout status`
    return t


def validate(target_name, project, required):
    if target_name == "fly":
        return validate_fly(project)
    if target_name == "render":
        return validate_render(project, required)
    if target_name == "digitalocean":
        return validate_digitalocean(project, required)
    return validate_kubernetes(project)


def check_image_and_url(t):
    problems = []
    last = (t.image or "").rsplit("/", 1)[-1]
    if t.image is not None and (not t.image or any(c in t.image for c in " \t@") or ":" in last):
        problems.append(f"DEPLOY_IMAGE={t.image!r} must be a repository without a tag "
                        "(the tag is the commit), e.g. ghcr.io/acme/task-svc")
    if t.url and not re.match(r"https?://[^/\s]+", t.url):
        problems.append(f"DEPLOY_URL={t.url!r} must be http(s)://HOST, without /readyz")
    t.url = t.url.rstrip("/") if t.url else t.url
    return problems


# --- commands ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ref:
    """A value an earlier step looks up (the previous release...): `$NAME` when printed."""
    name: str
    before: str = ""
    after: str = ""


@dataclasses.dataclass
class Step:
    phase: str
    commands: list = dataclasses.field(default_factory=list)  # a pipeline of argv lists
    stdin: str | None = None         # fed to the first command: the only place for secrets
    stdin_shown: str | None = None   # the same with secrets as ***, for printing
    lookup: Callable[[str], dict] | None = None  # parses stdout into named values
    comment: str = ""
    wait: str | Ref | None = None    # poll <wait>/readyz here in Python instead of a command
    note: str = ""                   # not a command: where a phase happens instead


@dataclasses.dataclass
class Plan:
    steps: list
    rollback: list
    # Fly and Kubernetes may have replaced some instances when their deploy command fails;
    # Render and App Platform keep the previous version serving, so there is nothing to undo.
    rollback_on_deploy_failure: bool = True


def double_quoted(text):
    return re.sub(r'([\\"$`])', r"\\\1", text)


def shown(arg):
    if isinstance(arg, Ref):
        name = "${%s}" % arg.name if re.match(r"\w", arg.after) else f"${arg.name}"
        return f'"{double_quoted(arg.before)}{name}{double_quoted(arg.after)}"'
    return shlex.quote(arg)


def real(arg, values):
    if isinstance(arg, Ref):
        return f"{arg.before}{values[arg.name]}{arg.after}"
    return arg


def display(step):
    """The pipeline as a shell line; stdin, when there is one, is a here-document of the first
    command (its lines follow the step's line)."""
    commands = [" ".join(shown(a) for a in cmd) for cmd in step.commands]
    if step.stdin_shown is not None:
        commands[0] += f" <<'{HEREDOC}'"
    return " | ".join(commands)


def refs(step):
    return [a.name for cmd in step.commands for a in cmd if isinstance(a, Ref)] + (
        [step.wait.name] if isinstance(step.wait, Ref) else [])


def env_lines(pairs):
    """NAME=VALUE lines (LINE_FORMATS checked the values fit): (real, shown with ***)."""
    return ("".join(f"{k}={v}\n" for k, v in pairs),
            "".join(f"{k}=***\n" for k, _ in pairs))


def readiness_step(url, opts):
    """Polled by deploy.py (urllib); printed as the equivalent curl for copy-pasting."""
    target = Ref(url.name, url.before, "/readyz") if isinstance(url, Ref) else f"{url}/readyz"
    tries = max(1, math.ceil(opts.timeout / max(opts.interval, 0.001)))
    curl = ["curl", "-fsS", "-o", "/dev/null", "--retry-all-errors", "--retry", str(tries),
            "--retry-delay", str(max(1, round(opts.interval))), "--retry-max-time",
            str(round(opts.timeout)), target]
    return Step("readiness", [curl], wait=url, comment="polled by deploy.py until 200")


def walk(node):
    """Every dict in a JSON document, depth first: CLIs wrap their objects differently."""
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            yield from walk(item)


def parse_json(out, what):
    try:
        return json.loads(out)
    except ValueError:
        raise Failed(f"could not read {what} (not JSON)")


# --- fly ----------------------------------------------------------------------------------------


def fly_previous_image(out):
    """`fly image show --json`: the image the machines run now (the most common one)."""
    try:
        machines = json.loads(out)
    except ValueError:  # "App has not been deployed yet."
        return {"PREVIOUS_IMAGE": None}
    images = Counter()
    for m in machines if isinstance(machines, list) else [machines]:
        repo = "/".join(p for p in (m.get("Registry"), m.get("Repository")) if p)
        if repo and (m.get("Tag") or m.get("Digest")):
            images[f"{repo}:{m['Tag']}" if m.get("Tag") else f"{repo}@{m['Digest']}"] += 1
    return {"PREVIOUS_IMAGE": images.most_common(1)[0][0] if images else None}


def plan_fly(project, t, secrets, opts):
    app, image, config = project.name, f"{t.image}:{project.tag}", t.manifest
    lines, shown_lines = env_lines(secrets)
    steps = [
        Step("previous", [["fly", "image", "show", "--app", app, "--json"]],
             lookup=fly_previous_image, comment="-> PREVIOUS_IMAGE, what the machines run now"),
        Step("secrets", [["fly", "secrets", "import", "--stage", "--app", app]],
             stdin=lines, stdin_shown=shown_lines, comment="staged: the deploy below applies them"),
        Step("build", [["docker", "build", "-t", image, "."]]),
    ]
    if image.startswith("registry.fly.io/"):
        steps.append(Step("push", [["fly", "auth", "docker"]], comment="docker login to Fly"))
    steps += [
        Step("push", [["docker", "push", image]]),
        Step("release", note=f"{t.release} runs within the deploy below, once, with the new "
                             "image, before any machine is replaced; a failure stops the deploy"),
        Step("deploy", [["fly", "deploy", "--config", config, "--app", app, "--image", image]]),
        readiness_step(t.url, opts),
    ]
    rollback = [Step("rollback", [["fly", "deploy", "--config", config, "--app", app,
                                   "--image", Ref("PREVIOUS_IMAGE")]])]
    return Plan(steps, rollback)


# --- render -------------------------------------------------------------------------------------


def render_service_id(app):
    def parse(out):
        for item in walk(parse_json(out, "render services")):
            if item.get("name") == app and str(item.get("id", "")).startswith("srv-"):
                return {"RENDER_SERVICE_ID": item["id"]}
        raise Failed(f"Render has no service named {app}: create it from the Blueprint first "
                     "(deploy/render.yaml)")
    return parse


def render_live_deploy(out):
    for item in walk(parse_json(out, "render deploys list")):
        if item.get("status") == "live" and str(item.get("id", "")).startswith("dep-"):
            return {"PREVIOUS_DEPLOY": item["id"]}
    return {"PREVIOUS_DEPLOY": None}


def curl_option(name, value):
    """One line of a curl config (`curl -K`): a double-quoted string with curl's escapes."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    for char, escape in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\v", "\\v")):
        escaped = escaped.replace(char, escape)
    return f'{name} = "{escaped}"\n'


def render_api(phase, method, path, secret=None, data=None, comment=""):
    """A step running curl against Render's API. The API key, and a body holding a secret
    (`secret`: the JSON, and the same with ***), go in a config on curl's stdin (`-K -`);
    `data`, a body without one, stays an argument."""
    key = os.environ.get("RENDER_API_KEY", "")
    stdin = [curl_option("header", f"Authorization: Bearer {key}")]
    shown = [curl_option("header", "Authorization: Bearer ***")]
    # -o: an answer that echoes a secret stays off the terminal.
    command = ["curl", "-fsS", *(["-o", "/dev/null"] if secret else []), "-K", "-", "-X", method,
               "-H", "Content-Type: application/json", *(["--data", data] if data else []),
               Ref("RENDER_SERVICE_ID", f"{RENDER_API}/services/", path)]
    if secret:
        stdin.append(curl_option("data", secret[0]))
        shown.append(curl_option("data", secret[1]))
    return Step(phase, [command], stdin="".join(stdin), stdin_shown="".join(shown),
                comment=comment)


def plan_render(project, t, secrets, opts):
    service = Ref("RENDER_SERVICE_ID")
    steps = []
    if not os.environ.get("RENDER_SERVICE_ID"):
        steps.append(Step("previous", [["render", "services", "--output", "json"]],
                          lookup=render_service_id(project.name),
                          comment=f"-> RENDER_SERVICE_ID, the web service {project.name}"))
    steps.append(Step("previous", [["render", "deploys", "list", service, "--output", "json"]],
                      lookup=render_live_deploy, comment="-> PREVIOUS_DEPLOY, the live deploy"))
    for key, value in secrets:
        # One key at a time: PUT .../env-vars (no key) would replace the whole list.
        body = (json.dumps({"value": value}, separators=(",", ":")), '{"value":"***"}')
        steps.append(render_api("secrets", "PUT", f"/env-vars/{key}", secret=body,
                                comment=f"sets {key} (sync: false in render.yaml)"))
    steps += [
        Step("build", note=f"Render builds the image itself from commit {project.tag} "
                           "(runtime: docker in render.yaml) within the deploy below"),
        Step("push", note="nothing to push: Render fetches the commit from the linked repository"),
        Step("release", note=f"{t.release} runs within the deploy below with the new build, "
                             "before it takes traffic; a failure stops the deploy"),
        Step("deploy", [["render", "deploys", "create", service, "--commit", project.commit,
                         "--wait", "--confirm", "--output", "json"]]),
        readiness_step(t.url, opts),
    ]
    body = Ref("PREVIOUS_DEPLOY", '{"deployId":"', '"}')
    rollback = [render_api("rollback", "POST", "/rollback", data=body,
                           comment="Render redeploys that deploy's build")]
    return Plan(steps, rollback, rollback_on_deploy_failure=False)


# --- digitalocean -------------------------------------------------------------------------------


def do_image_source(repository, tag):
    """App Platform's `image` source for a repository: DOCR, GHCR or Docker Hub only."""
    host, _, path = repository.partition("/")
    owner, _, name = path.partition("/")
    if host == "registry.digitalocean.com" and name:
        return {"registry_type": "DOCR", "repository": name, "tag": tag}
    if host == "ghcr.io" and name:
        return {"registry_type": "GHCR", "registry": owner, "repository": name, "tag": tag}
    if host in ("docker.io", "index.docker.io") and name:
        return {"registry_type": "DOCKER_HUB", "registry": owner, "repository": name, "tag": tag}
    if "." not in host and path and "/" not in path:  # user/name on Docker Hub
        return {"registry_type": "DOCKER_HUB", "registry": host, "repository": path, "tag": tag}
    raise Invalid(f"DEPLOY_IMAGE={repository!r}: App Platform pulls from "
                  "registry.digitalocean.com/REGISTRY/NAME, ghcr.io/OWNER/NAME or Docker Hub")


def do_spec(spec, source, secrets):
    """deploy/do-app.yaml deploying the pushed image (not a build from GitHub), with the
    SECRET values filled in: App Platform takes secrets in the spec and encrypts them."""
    import yaml
    spec = copy.deepcopy(spec)
    for component in spec.get("services", []) + spec.get("jobs", []):
        for key in ("github", "gitlab", "git", "dockerfile_path", "source_dir", "build_command"):
            component.pop(key, None)
        component["image"] = dict(source)
    values = dict(secrets)
    for service in spec.get("services", []):
        envs = service.setdefault("envs", [])
        for env in envs:
            if env.get("type") == "SECRET" and env.get("key") in values:
                env["value"] = values.pop(env["key"])
        for key, value in values.items():  # optional secrets the manifest does not list
            envs.append({"key": key, "scope": "RUN_TIME", "type": "SECRET", "value": value})
    return yaml.safe_dump(spec, sort_keys=False)


def do_app(app):
    def parse(out):
        for item in parse_json(out, "doctl apps list"):
            if (item.get("spec") or {}).get("name") == app:
                return {"APP_ID": item.get("id"),
                        "PREVIOUS_DEPLOYMENT": (item.get("active_deployment") or {}).get("id"),
                        "LIVE_URL": item.get("live_url")}
        raise Failed(f"App Platform has no app named {app}: create it once as "
                     "deploy/do-app.yaml's header says")
    return parse


def plan_digitalocean(project, t, secrets, opts):
    image = f"{t.image}:{project.tag}"
    source = do_image_source(t.image, project.tag)
    spec = do_spec(t.data, source, secrets)
    masked = do_spec(t.data, source, [(k, "***") for k, _ in secrets])
    update = ["doctl", "apps", "update", Ref("APP_ID"), "--spec", "-", "--wait"]
    names = ", ".join(k for k, _ in secrets)
    steps = [
        Step("previous", [["doctl", "apps", "list", "--output", "json"]],
             lookup=do_app(project.name),
             comment="-> APP_ID, PREVIOUS_DEPLOYMENT (the active one), LIVE_URL"),
        Step("secrets", note=f"{names} go into the app spec of the deploy below as type: SECRET "
                             "values, which App Platform encrypts"),
        Step("build", [["docker", "build", "-t", image, "."]]),
    ]
    if source["registry_type"] == "DOCR":
        steps.append(Step("push", [["doctl", "registry", "login"]], comment="docker login to DOCR"))
    steps += [
        Step("push", [["docker", "push", image]]),
        Step("release", note=f"{t.release} runs within the update below with the new image, "
                             "before the service is replaced; a failure stops the deployment"),
        Step("deploy", [update], stdin=spec, stdin_shown=masked,
             comment="deploy/do-app.yaml with the new image and the secrets"),
        readiness_step(t.url or Ref("LIVE_URL"), opts),
    ]
    previous = ["doctl", "apps", "spec", "get", Ref("APP_ID"), "--deployment",
                Ref("PREVIOUS_DEPLOYMENT")]
    rollback = [Step("rollback", [previous, update], comment="redeploys the previous spec")]
    return Plan(steps, rollback, rollback_on_deploy_failure=False)


# --- kubernetes ---------------------------------------------------------------------------------


def sed_swap(old, new):
    """A sed expression replacing `image: OLD` at the end of a line with `image: NEW`."""
    return "s|image: %s$|image: %s|" % (re.sub(r"([.\[\]*^$\\|])", r"\\\1", old),
                                        re.sub(r"([&\\|])", r"\\\1", new))


def plan_kubernetes(project, t, secrets, opts):
    app, image = project.name, f"{t.image}:{project.tag}"
    swap = sed_swap(t.data["current_image"], image)
    migrate_timeout = round(seconds("DEPLOY_MIGRATE_TIMEOUT", 300))
    status = ["kubectl", "rollout", "status", f"deployment/{app}",
              f"--timeout={round(opts.timeout)}s"]
    revision = r"jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}"
    lines, shown_lines = env_lines(secrets)
    steps = [
        Step("previous",
             [["kubectl", "get", "deployment", app, "--ignore-not-found", "-o", revision]],
             lookup=lambda out: {"PREVIOUS_REVISION": out.strip() or None},
             comment="-> PREVIOUS_REVISION (none on a first deploy)"),
        Step("secrets", [["kubectl", "create", "secret", "generic", f"{app}-secrets",
                          "--from-env-file=/dev/stdin", "--dry-run=client", "-o", "yaml"],
                         ["kubectl", "apply", "-f", "-"]], stdin=lines, stdin_shown=shown_lines),
        Step("build", [["docker", "build", "-t", image, "."]]),
        Step("push", [["docker", "push", image]]),
        Step("release", [["kubectl", "apply", "-f", "deploy/k8s/configmap.yaml"]],
             comment="the Job reads its settings from it"),
        Step("release", [["kubectl", "delete", "job", f"{app}-migrate", "--ignore-not-found"]],
             comment="a Job's pod template cannot change: one per release"),
        Step("release", [["sed", swap, "deploy/k8s/migrate-job.yaml"],
                         ["kubectl", "apply", "-f", "-"]]),
        Step("release", [["kubectl", "wait", "--for=condition=complete",
                          f"--timeout={migrate_timeout}s", f"job/{app}-migrate"]]),
        Step("deploy", [["kubectl", "kustomize", "deploy/k8s"], ["sed", swap],
                        ["kubectl", "apply", "-f", "-"]],
             comment="the manifests with the new image"),
        Step("readiness", [status]),
    ]
    if t.url:  # the public path too (ingress), when DEPLOY_URL names it
        steps.append(readiness_step(t.url, opts))
    rollback = [Step("rollback", [["kubectl", "rollout", "undo", f"deployment/{app}",
                                   Ref("PREVIOUS_REVISION", "--to-revision=")]]),
                Step("rollback", [status])]
    return Plan(steps, rollback)


PLANNERS = {"fly": plan_fly, "render": plan_render, "digitalocean": plan_digitalocean,
            "kubernetes": plan_kubernetes}


def plan(target, project, t, secrets, opts):
    """The whole deploy as steps: every command it would run, in order, and the rollback."""
    return PLANNERS[target](project, t, secrets, opts)


# --- output -------------------------------------------------------------------------------------


class Output:
    """Prints with every secret value replaced by *** (in case one slips into a message)."""

    def __init__(self, hidden):
        # Very short values (not valid secrets anyway) would mangle every line they occur in.
        self.hidden = sorted((h for h in hidden if len(h) >= 6), key=len, reverse=True)

    def __call__(self, text="", err=False):
        for value in self.hidden:
            text = text.replace(value, "***")
        print(text, file=sys.stderr if err else sys.stdout, flush=True)


def numbered(plan):
    """Numbers the command steps (notes get none) across the deploy and its rollback."""
    n, numbers = 0, {}
    for step in plan.steps + plan.rollback:
        if step.commands:
            n += 1
            numbers[id(step)] = n
    return numbers


def step_line(step, number):
    tag = f"[{step.phase}]".ljust(12)
    if not step.commands:
        return f"     {tag}-- {step.note}"
    comment = f"  # {step.comment}" if step.comment else ""
    return f"{number:>3}. {tag}{display(step)}{comment}"


def print_step(say, step, number):
    say(step_line(step, number))
    if step.stdin_shown is not None:
        say(step.stdin_shown.rstrip("\n"))
        say(HEREDOC)


def rollback_heading(plan):
    extra = "" if not plan.rollback_on_deploy_failure else " (or a failed deploy step)"
    return f"on failed readiness{extra}:"


def print_plan(say, plan):
    numbers = numbered(plan)
    for step in plan.steps:
        print_step(say, step, numbers.get(id(step)))
    say(rollback_heading(plan))
    for step in plan.rollback:
        print_step(say, step, numbers.get(id(step)))


# --- running ------------------------------------------------------------------------------------


def run_pipeline(commands, values, stdin=None, capture=False):
    """Runs cmd1 | cmd2 | ...; fails unless every command exits 0 (like `set -o pipefail`).
    Returns the last command's output when captured."""
    procs, previous = [], None
    try:
        for index, command in enumerate(commands):
            last = index == len(commands) - 1
            first_stdin = subprocess.PIPE if stdin is not None else None
            proc = subprocess.Popen([real(a, values) for a in command], cwd=ROOT,
                                    stdin=previous.stdout if previous else first_stdin,
                                    stdout=subprocess.PIPE if (capture or not last) else None)
            if previous:
                previous.stdout.close()  # the next command owns it now (SIGPIPE works)
            procs.append(proc)
            previous = proc
    except FileNotFoundError as err:
        for proc in procs:
            proc.kill()
        raise Failed(f"{err.filename} is not installed")
    if stdin is not None:
        # From a thread: the pipeline may fill its output pipe before it reads all its input.
        def feed(pipe=procs[0].stdin):
            try:
                with pipe:
                    pipe.write(stdin.encode())
            except BrokenPipeError:  # it exited without reading all of it: its status says why
                pass
        threading.Thread(target=feed, daemon=True).start()
    out = procs[-1].stdout.read().decode() if capture else ""
    codes = [proc.wait() for proc in procs]
    failed = [(command[0], code) for command, code in zip(commands, codes) if code != 0]
    if failed:
        raise Failed(", ".join(f"{name} exited {code}" for name, code in failed))
    return out


def wait_ready(say, base_url, timeout, interval):
    """Polls BASE_URL/readyz until it answers 200; False after `timeout` seconds."""
    url = base_url.rstrip("/") + "/readyz"
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        remaining = max(0.5, deadline - time.monotonic())
        try:
            with urllib.request.urlopen(url, timeout=min(10, remaining)) as response:
                if response.status == 200:
                    say(f"    ready: {url} answered 200")
                    return True
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as err:
            # The readiness report names the failing dependency: worth printing, never secret.
            last = f"HTTP {err.code} {err.read(300).decode(errors='replace').strip()}"
        except (urllib.error.URLError, OSError) as err:
            last = str(getattr(err, "reason", err))
        if time.monotonic() + interval > deadline:
            say(f"    not ready after {timeout:g}s: {url} last answered {last}", err=True)
            return False
        time.sleep(interval)


def run_step(say, step, values, opts):
    """Runs one step; False when it fails (after saying why)."""
    unknown = [name for name in refs(step) if not values.get(name)]
    if unknown:
        say(f"    failed: {', '.join(unknown)} unknown (the lookup found none)"
            + ("; set DEPLOY_URL" if "LIVE_URL" in unknown else ""), err=True)
        return False
    if step.wait is not None:
        return wait_ready(say, real(step.wait, values), opts.timeout, opts.interval)
    try:
        out = run_pipeline(step.commands, values, step.stdin, capture=step.lookup is not None)
        if step.lookup:
            found = step.lookup(out)
            values.update(found)
            say("    " + ", ".join(f"{k}={v if v else '(none)'}" for k, v in found.items()))
    except Failed as err:
        say(f"    failed: {err}", err=True)
        return False
    return True


def roll_back(say, plan, values, opts, numbers):
    missing = {name for step in plan.rollback for name in refs(step) if not values.get(name)}
    if missing:
        say(f"no previous release to roll back to ({', '.join(sorted(missing))} unknown: a first "
            "deploy?): fix forward, see docs/runbook.md", err=True)
        return 1
    for step in plan.rollback:
        print_step(say, step, numbers.get(id(step)))
        if not run_step(say, step, values, opts):
            say("ROLLBACK FAILED: finish it by hand (docs/runbook.md, Rollback)", err=True)
            return 1
    say("rolled back to the previous release; the new one is not serving. Exit 1.", err=True)
    return 1


def execute(say, plan, values, opts):
    """Runs the plan, stopping at the first failure; rolls back when the deploy or the
    readiness wait fails. Returns the exit status."""
    numbers = numbered(plan)
    for step in plan.steps:
        print_step(say, step, numbers.get(id(step)))
        if run_step(say, step, values, opts):
            continue
        undo = step.phase == "deploy" and plan.rollback_on_deploy_failure
        if step.phase == "readiness" or undo:
            say(rollback_heading(plan))
            return roll_back(say, plan, values, opts, numbers)
        where = "the previous release keeps serving" if step.phase == "deploy" else \
            "nothing was deployed: the running release is untouched"
        say(f"step {numbers.get(id(step))} failed: {where}", err=True)
        return 1
    say("deployed and ready")
    return 0


# --- main ---------------------------------------------------------------------------------------


def seconds(name, default):
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise Invalid(f"{name}={value!r} must be a number of seconds")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="deploy.py", description="Deploy to " + ", ".join(TARGETS) + " (see the module doc).")
    parser.add_argument("target", help=", ".join(TARGETS))
    parser.add_argument("--dry-run", action="store_true", help="print every command, run nothing")
    parser.add_argument("--timeout", type=float, default=seconds("DEPLOY_READY_TIMEOUT", 300),
                        help="seconds to wait for readiness (DEPLOY_READY_TIMEOUT, default 300)")
    parser.add_argument("--interval", type=float, default=seconds("DEPLOY_READY_INTERVAL", 5),
                        help="seconds between readiness probes (DEPLOY_READY_INTERVAL, default 5)")
    opts = parser.parse_args(argv)
    opts.target = ALIASES.get(opts.target.lower(), opts.target.lower())
    if opts.target not in TARGETS:
        raise Invalid(f"unknown target {opts.target!r}: choose one of {', '.join(TARGETS)}")
    return opts


def prepare(opts):
    """Validation, all of it before anything runs: (project, target, secrets to set, hidden)."""
    project = load_project()
    required, optional = service_secrets(project)
    t = validate(opts.target, project, required)
    needed = [s for s in required if s.name not in t.managed]
    credentials = CREDENTIALS.get(opts.target, ())
    problems = t.problems + check_image_and_url(t) + check_tree(project) + \
        check_secrets(project, needed, optional, credentials, LINE_FORMATS.get(opts.target))
    if opts.target == "render":
        problems += check_pushed()
    if problems:
        raise Invalid(*problems)
    present = [s for s in optional if os.environ.get(s.name, "").strip()]
    secrets = [(s.name, os.environ[s.name].strip()) for s in needed + present]
    hidden = [v for _, v in secrets] + [os.environ.get(s.name, "")
                                        for s in (*SECRETS, *credentials)]
    return project, t, secrets, hidden, optional


def header(say, opts, project, t, secrets, optional):
    say(f"deploy {project.name} ({project.variant}) to {opts.target}"
        + (": dry run, nothing below is run" if opts.dry_run else ""))
    say(f"validate: {t.manifest} parses, names {project.name}, runs `migrate` as its release "
        "step, probes /readyz")
    say(f"validate: the git tree is clean at {project.tag}")
    if t.image:
        say(f"image: {t.image}:{project.tag} (the commit; DEPLOY_IMAGE sets the repository)")
        if "your-org" in t.image:
            say("warning: that repository is the template's placeholder: set DEPLOY_IMAGE",
                err=True)
    else:
        say(f"image: built by the platform from commit {project.commit}")
    say(f"ready: {t.url + '/readyz' if t.url else 'see the readiness step'} (DEPLOY_URL sets it)")
    say("secrets from this environment (values shown as ***): "
        + (", ".join(k for k, _ in secrets) or "none"))
    for key, how in t.managed.items():
        say(f"secrets: {key} is managed by the platform: {how}")
    unset = [s.name for s in optional if s.name not in dict(secrets)]
    if unset:
        say(f"secrets: optional, not set: {', '.join(unset)}")


def validate_manifests():
    """`deploy.py validate`: every target's manifest, without secrets, git or network (the
    course's gate 4 runs this). Exit 0 when all of them pass, 2 otherwise."""
    try:
        project = load_project()
        required, _ = service_secrets(project)
        problems = []
        for name in TARGETS:
            t = validate(name, project, required)
            problems += t.problems
            print(f"{name}: {t.manifest} " + ("has problems" if t.problems else
                  f"parses, names {project.name}, release step {t.release}, probes /readyz"))
    except Invalid as err:
        problems = list(err.args)
    for line in problems:
        print(f"deploy: {line}", file=sys.stderr)
    return 2 if problems else 0


def main(argv):
    if tomllib is None:
        print("deploy: needs Python 3.11+ (tomllib reads Cargo.toml, .template.toml and "
              f"deploy/fly.toml); this is Python {sys.version.split()[0]}", file=sys.stderr)
        return 2
    if argv[:1] == ["validate"]:
        return validate_manifests()
    say = Output([])
    try:
        opts = parse_args(argv)
        project, t, secrets, hidden, optional = prepare(opts)
        say = Output(hidden)
        the_plan = plan(opts.target, project, t, secrets, opts)
        tools = sorted({c[0] for s in the_plan.steps + the_plan.rollback for c in s.commands
                        if s.wait is None})
        missing = [tool for tool in tools if shutil.which(tool) is None]
        if missing and not opts.dry_run:
            raise Invalid(f"not installed here: {', '.join(missing)} (needed for {opts.target})")
    except Invalid as err:
        for line in err.args:
            say(f"deploy: {line}", err=True)
        return 2
    header(say, opts, project, t, secrets, optional)
    if opts.dry_run:
        if missing:
            say(f"note: not installed here: {', '.join(missing)}")
        print_plan(say, the_plan)
        return 0
    values = {"RENDER_SERVICE_ID": os.environ.get("RENDER_SERVICE_ID")}
    return execute(say, the_plan, values, opts)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
