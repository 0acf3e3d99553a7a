#!/usr/bin/env python3
"""Tests of the service's `just deploy` (template/scripts/deploy.sh) with no cloud account.

  python3 scripts/test_deploy.py [RENDERED_DIR]

Runs deploy.sh in a rendered service (the full variant, rendered by scripts/kit.sh when no
directory is given) with stub `fly`, `render`, `doctl` and `kubectl` commands first on PATH:
each records its arguments (and stdin) and succeeds, or fails when told to. Checks every
target's commands in order, the Kubernetes release step and its rollback when the rollout
does not complete, the refusals (no IMAGE, no service or app id, an unknown target), and
`deploy.sh check` on the manifests as rendered and with a release step removed.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

KIT = pathlib.Path(__file__).resolve().parent.parent
NAME = "task-svc"
STUB = """#!/usr/bin/env bash
# One write per call, so the calls of a pipeline never interleave in the log.
line="$(basename "$0")$(printf ' %q' "$@")"
if [ "${!#}" = - ]; then cat >>"$CALLS.applied"; line+=" <stdin>"; fi
printf '%s\\n' "$line" >>"$CALLS"
call="$(basename "$0") $*"
IFS=,
for failing in ${FAIL:-}; do
  case "$call" in "$failing"*) exit 1 ;; esac
done
if [ "$(basename "$0")" = kubectl ] && [ "$1" = kustomize ]; then
  printf 'kind: Deployment\\nspec:\\n  containers:\\n    - image: ghcr.io/your-org/%s:0.1.0\\n' "$NAME"
fi
"""
passed = 0


def check(condition, what, detail=""):
    global passed
    if not condition:
        sys.exit(f"FAILED: {what}\n{detail}".rstrip())
    passed += 1


def deploy(svc, bin_dir, *args, env=None):
    calls = svc / "calls.log"
    calls.unlink(missing_ok=True)
    (svc / "calls.log.applied").unlink(missing_ok=True)
    environ = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), "NAME": NAME,
               "DEPLOY_TIMEOUT_SECS": "5", **(env or {})}
    proc = subprocess.run(["bash", "scripts/deploy.sh", *args], cwd=svc, env=environ,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    lines = calls.read_text().splitlines() if calls.exists() else []
    return proc, lines


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="deploy-test-"))
    try:
        if len(sys.argv) > 1:
            svc = work / NAME
            shutil.copytree(sys.argv[1], svc, ignore=shutil.ignore_patterns("target"))
        else:
            svc = work / NAME
            subprocess.run([str(KIT / "scripts" / "kit.sh"), "render", "full", str(svc), NAME],
                           check=True, capture_output=True)
        bin_dir = work / "bin"
        bin_dir.mkdir()
        for tool in ("fly", "render", "doctl", "kubectl"):
            (bin_dir / tool).write_text(STUB)
            (bin_dir / tool).chmod(0o755)
        run_targets(svc, bin_dir)
        run_checks(svc)
    finally:
        shutil.rmtree(work)
    print(f"deploy.sh: {passed} checks passed")


def run_targets(svc, bin_dir):
    proc, calls = deploy(svc, bin_dir, "fly")
    check(proc.returncode == 0 and calls == ["fly deploy --config deploy/fly.toml"],
          "fly: one `fly deploy` with the manifest", f"{proc.stderr}\n{calls}")

    proc, calls = deploy(svc, bin_dir, "render")
    check(proc.returncode == 2 and "RENDER_SERVICE_ID" in proc.stderr and not calls,
          "render: refused without RENDER_SERVICE_ID", proc.stderr)
    proc, calls = deploy(svc, bin_dir, "render", env={"RENDER_SERVICE_ID": "srv-1"})
    check(proc.returncode == 0 and calls == ["render deploys create srv-1 --wait --confirm"],
          "render: a deploy of the service, waited for", f"{proc.stderr}\n{calls}")

    proc, calls = deploy(svc, bin_dir, "digitalocean", env={"DIGITALOCEAN_APP_ID": "app-1"})
    check(calls == ["doctl apps update app-1 --spec deploy/do-app.yaml --wait"],
          "digitalocean: the app updated from its spec, waited for", f"{proc.stderr}\n{calls}")
    proc, calls = deploy(svc, bin_dir, "digitalocean", env={"FAIL": "doctl"})
    check(proc.returncode != 0, "digitalocean: a failed deployment fails the deploy")

    proc, calls = deploy(svc, bin_dir, "kubernetes")
    check(proc.returncode == 2 and "IMAGE" in proc.stderr and not calls,
          "kubernetes: refused without IMAGE", proc.stderr)
    image = {"IMAGE": "ghcr.io/acme/task-svc:1.4.2"}
    proc, calls = deploy(svc, bin_dir, "kubernetes", env=image)
    expected = [
        "kubectl apply -f deploy/k8s/configmap.yaml",
        f"kubectl delete job {NAME}-migrate --ignore-not-found",
        "kubectl apply -f -",
        f"kubectl wait --for=condition=complete --timeout=5s job/{NAME}-migrate",
        "kubectl kustomize deploy/k8s",
        "kubectl apply -f -",
        f"kubectl rollout status deployment/{NAME} --timeout=5s",
    ]
    check(proc.returncode == 0 and [c.split(" <stdin")[0] for c in calls] == expected,
          "kubernetes: migrations first, then the manifests, then the rollout watched",
          f"{proc.stderr}\n" + "\n".join(calls))
    applied = (svc / "calls.log.applied").read_text()
    check(applied.count("image: ghcr.io/acme/task-svc:1.4.2") == 2 and "your-org" not in applied,
          "kubernetes: the migration Job and the Deployment both run the new image", applied)

    proc, calls = deploy(svc, bin_dir, "kubernetes",
                         env={**image, "FAIL": f"kubectl wait"})
    check(proc.returncode == 2 and "migrations did not complete" in proc.stderr
          and not any("kustomize" in c for c in calls),
          "kubernetes: failed migrations roll nothing out", f"{proc.stderr}\n" + "\n".join(calls))

    proc, calls = deploy(svc, bin_dir, "kubernetes",
                         env={**image, "FAIL": f"kubectl rollout status"})
    check(proc.returncode != 0 and f"kubectl rollout undo deployment/{NAME}" in calls,
          "kubernetes: a rollout that does not complete is undone",
          f"{proc.stderr}\n" + "\n".join(calls))

    proc, calls = deploy(svc, bin_dir, "heroku")
    check(proc.returncode == 2 and "usage" in proc.stderr and not calls,
          "an unknown target is refused with the usage", proc.stderr)


def run_checks(svc):
    proc = subprocess.run(["bash", "scripts/deploy.sh", "check"], cwd=svc,
                          capture_output=True, text=True)
    check(proc.returncode == 0 and proc.stdout.count("ok   ") == 5,
          "check: every manifest as rendered keeps its release step and health check",
          proc.stdout + proc.stderr)
    for manifest, line in (("deploy/fly.toml", "release_command"),
                           ("deploy/render.yaml", "preDeployCommand"),
                           ("deploy/do-app.yaml", "kind: PRE_DEPLOY"),
                           ("deploy/k8s/deployment.yaml", "path: /readyz")):
        path = svc / manifest
        kept = path.read_text()
        path.write_text("".join(l for l in kept.splitlines(True) if line not in l))
        proc = subprocess.run(["bash", "scripts/deploy.sh", "check"], cwd=svc,
                              capture_output=True, text=True)
        path.write_text(kept)
        check(proc.returncode == 2 and f"FAIL {manifest}" in proc.stdout,
              f"check: {manifest} without `{line}` fails, naming the file",
              proc.stdout + proc.stderr)


if __name__ == "__main__":
    main()
