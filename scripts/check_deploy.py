#!/usr/bin/env python3
"""Static checks of a rendered service's deployment files (no cluster or cloud needed).

usage: check_deploy.py RENDERED_DIR [KUBERNETES_VALIDATE]

- every YAML, TOML and JSON file under deploy/ parses;
- the Kubernetes manifests validate against the Kubernetes schemas (kubernetes-validate, when
  its path is given), and keep to our rules: probes on /healthz and /readyz, requests and
  limits, non-root with a read-only root filesystem, secrets only through a Secret, a
  PodDisruptionBudget, migrations in a Job running `migrate`;
- Fly.io, Render and DigitalOcean run `migrate` as their release step and probe /readyz;
- no manifest holds a secret value.
"""
import json
import pathlib
import subprocess
import sys
import tomllib

import yaml

SECRETS = ("JWT_SECRET", "PASSWORD_PEPPERS", "DATABASE_URL", "REDIS_URL", "WEBHOOK_INBOUND_SECRETS")

root = pathlib.Path(sys.argv[1])
validator = sys.argv[2] if len(sys.argv) > 2 else None
deploy = root / "deploy"
problems = []


def fail(message):
    problems.append(message)


def load(path):
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        return [d for d in yaml.safe_load_all(text) if d is not None]
    if path.suffix == ".toml":
        return [tomllib.loads(text)]
    if path.suffix == ".json":
        return [json.loads(text)]
    return []


docs = {}
for path in sorted(deploy.rglob("*")):
    if path.is_file():
        try:
            docs[path.relative_to(root).as_posix()] = load(path)
        except Exception as err:  # noqa: BLE001 - any parse error is the finding
            fail(f"{path.relative_to(root)}: does not parse: {err}")

# --- Kubernetes -------------------------------------------------------------------------------
k8s = {name: d for name, d in docs.items() if name.startswith("deploy/k8s/")}
resources = {}
for name, items in k8s.items():
    for item in items:
        if item.get("kind") and item.get("kind") != "Kustomization":
            resources.setdefault(item["kind"], []).append((name, item))

kustomization = docs.get("deploy/k8s/kustomization.yaml", [{}])[0]
for listed in kustomization.get("resources", []):
    if f"deploy/k8s/{listed}" not in k8s:
        fail(f"kustomization.yaml lists {listed}, which does not exist")
if "secret.example.yaml" in kustomization.get("resources", []):
    fail("kustomization.yaml must not apply the example Secret")


def containers(item):
    return item["spec"]["template"]["spec"]["containers"]


def check_pod_security(name, pod_spec):
    context = pod_spec.get("securityContext", {})
    if not context.get("runAsNonRoot"):
        fail(f"{name}: the pod must set runAsNonRoot: true")
    if pod_spec.get("automountServiceAccountToken") is not False:
        fail(f"{name}: the pod needs no Kubernetes API token (automountServiceAccountToken: false)")
    for c in pod_spec["containers"]:
        sc = c.get("securityContext", {})
        if not sc.get("readOnlyRootFilesystem"):
            fail(f"{name}: container {c['name']} needs readOnlyRootFilesystem: true")
        if sc.get("allowPrivilegeEscalation") is not False:
            fail(f"{name}: container {c['name']} needs allowPrivilegeEscalation: false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            fail(f"{name}: container {c['name']} must drop ALL capabilities")
        limits = c.get("resources", {})
        if not limits.get("requests") or not limits.get("limits", {}).get("memory"):
            fail(f"{name}: container {c['name']} needs resource requests and a memory limit")
        for env in c.get("env", []):
            if env.get("name") in SECRETS and "value" in env:
                fail(f"{name}: {env['name']} must come from a Secret, not a literal value")


deployments = resources.get("Deployment", [])
if len(deployments) != 1:
    fail(f"expected one Deployment, found {len(deployments)}")
for name, item in deployments:
    pod = item["spec"]["template"]["spec"]
    check_pod_security(name, pod)
    for c in pod["containers"]:
        probes = {
            kind: c.get(kind, {}).get("httpGet", {}).get("path")
            for kind in ("livenessProbe", "readinessProbe")
        }
        if probes != {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}:
            fail(f"{name}: liveness must probe /healthz and readiness /readyz, found {probes}")
        if not any("secretRef" in source for source in c.get("envFrom", [])):
            fail(f"{name}: the secrets must come from a Secret (envFrom secretRef)")
if not resources.get("PodDisruptionBudget"):
    fail("deploy/k8s has no PodDisruptionBudget")
jobs = resources.get("Job", [])
if not any(c.get("args") == ["migrate"] for _, job in jobs for c in containers(job)):
    fail("deploy/k8s has no Job running `migrate` (the release step)")
for name, job in jobs:
    check_pod_security(name, job["spec"]["template"]["spec"])
for name, items in docs.items():
    if name.startswith("deploy/k8s/") and not name.endswith("secret.example.yaml"):
        for item in items:
            if item.get("kind") == "Secret":
                fail(f"{name}: holds a Secret; secrets are created from a secret store, not committed")
config_maps = [item for _, item in resources.get("ConfigMap", [])]
for item in config_maps:
    for key in item.get("data", {}):
        if key in SECRETS:
            fail(f"a ConfigMap holds {key}, a secret")
    if item.get("data", {}).get("DATABASE_MIGRATE") != "false":
        fail("pods must not migrate at start-up (DATABASE_MIGRATE: \"false\"): the Job does")

if validator:
    files = [root / n for n in k8s if not n.endswith("kustomization.yaml")]
    result = subprocess.run(
        [validator, "--strict", "-k", "1.31", *map(str, files)],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        fail("kubernetes-validate:\n" + result.stdout + result.stderr)
    else:
        print(f"kubernetes-validate: {len(files)} manifests match the Kubernetes 1.31 schemas")

# --- Fly.io, Render, DigitalOcean -------------------------------------------------------------
fly = docs.get("deploy/fly.toml", [None])[0]
if not fly:
    fail("deploy/fly.toml is missing")
else:
    if not fly.get("deploy", {}).get("release_command", "").endswith(" migrate"):
        fail("fly.toml: the release_command must run `migrate`")
    checks = fly.get("http_service", {}).get("checks", [])
    if not any(c.get("path") == "/readyz" for c in checks):
        fail("fly.toml: http_service.checks must probe /readyz")
    if any(k in SECRETS for k in fly.get("env", {})):
        fail("fly.toml: secrets belong in `fly secrets set`, not [env]")

render = docs.get("deploy/render.yaml", [None])[0]
if not render:
    fail("deploy/render.yaml is missing")
else:
    web = [s for s in render.get("services", []) if s.get("type") == "web"]
    if len(web) != 1:
        fail("render.yaml: expected one web service")
    else:
        web = web[0]
        if web.get("healthCheckPath") != "/readyz":
            fail("render.yaml: healthCheckPath must be /readyz")
        if not web.get("preDeployCommand", "").endswith(" migrate"):
            fail("render.yaml: preDeployCommand must run `migrate`")
        for var in web.get("envVars", []):
            if var.get("key") in SECRETS and "value" in var:
                fail(f"render.yaml: {var['key']} must not have a literal value")

do = docs.get("deploy/do-app.yaml", [None])[0]
if not do:
    fail("deploy/do-app.yaml is missing")
else:
    pre = [j for j in do.get("jobs", []) if j.get("kind") == "PRE_DEPLOY"]
    if not any(j.get("run_command", "").endswith(" migrate") for j in pre):
        fail("do-app.yaml: a PRE_DEPLOY job must run `migrate`")
    for service in do.get("services", []):
        if service.get("health_check", {}).get("http_path") != "/readyz":
            fail(f"do-app.yaml: service {service.get('name')} must probe /readyz")
        for env in service.get("envs", []):
            if env.get("key") in ("JWT_SECRET", "PASSWORD_PEPPERS") and (
                env.get("type") != "SECRET" or "value" in env
            ):
                fail(f"do-app.yaml: {env['key']} must be a SECRET without a value")

if problems:
    print(f"{root}: deployment files have problems:")
    for p in problems:
        print(f"  - {p}")
    sys.exit(1)
print(f"{root}: {len(docs)} deployment files parse and keep the deployment rules")
