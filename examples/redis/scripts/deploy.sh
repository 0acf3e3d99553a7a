#!/usr/bin/env bash
# Deploys this service with each platform's own release machinery (`just deploy TARGET`):
#
#   fly           `fly deploy`: builds the image, runs `release_command` (migrations) in a
#                 throwaway machine, then a blue-green switch that only happens when every
#                 new machine passes its /readyz check; otherwise the old machines serve on.
#   render        `render deploys create --wait`: Render builds from the repository, runs
#                 `preDeployCommand` (migrations), and moves traffic only to an instance
#                 that passes `healthCheckPath`; a failed deploy leaves the old one live.
#   digitalocean  `doctl apps update --spec ... --wait`: the PRE_DEPLOY job migrates, and a
#                 deployment whose health check fails never replaces the running one.
#   kubernetes    the migration Job, then `kubectl apply -k`; the rollout is watched and
#                 undone (`kubectl rollout undo`) when it does not complete in time.
#
# `just deploy check` checks that every target's manifest keeps the two promises the deploys
# rest on: migrations as the release step, and /readyz as the health check.
#
# Secrets are set once in the platform's own store, never passed here (docs/runbook.md,
# "Secrets"). The image for Kubernetes is IMAGE (e.g. ghcr.io/acme/svc:1.4.2), built from the
# Dockerfile and pushed to your registry beforehand (this service's CI builds no image). Needs
# the platform's CLI, logged in.
set -euo pipefail

NAME=$(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | head -1)
TIMEOUT=${DEPLOY_TIMEOUT_SECS:-300}

die() { printf 'deploy: %s\n' "$*" >&2; exit 2; }
# The value of the environment variable $1, which must be set ($2 says where to find it).
need() { [ -n "${!1:-}" ] || die "set $1: $2"; printf '%s' "${!1}"; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }

# ANCHOR: kubernetes
kubernetes() {
  local image
  image=$(need IMAGE "the image to deploy, e.g. ghcr.io/acme/$NAME:1.4.2")
  # The Deployment and the Job each run one image: both become IMAGE.
  run kubectl apply -f deploy/k8s/configmap.yaml
  # A Job's template cannot change: one Job per release.
  run kubectl delete job "$NAME-migrate" --ignore-not-found
  sed "s|image: .*\$|image: $image|" deploy/k8s/migrate-job.yaml | run kubectl apply -f -
  run kubectl wait --for=condition=complete --timeout="${TIMEOUT}s" "job/$NAME-migrate" ||
    die "the migrations did not complete: nothing was rolled out (kubectl logs job/$NAME-migrate)"
  kubectl kustomize deploy/k8s | sed "s|image: .*\$|image: $image|" | run kubectl apply -f -
  if ! run kubectl rollout status "deployment/$NAME" --timeout="${TIMEOUT}s"; then
    run kubectl rollout undo "deployment/$NAME"
    run kubectl rollout status "deployment/$NAME" --timeout="${TIMEOUT}s"
    die "the new version did not become ready: rolled back to the previous one"
  fi
}
# ANCHOR_END: kubernetes

# FILE must hold a line matching each PATTERN (grep -E), or the check names what is missing.
expect() {
  local file=$1 what=$2; shift 2
  local pattern
  for pattern in "$@"; do
    grep -Eq "$pattern" "$file" || { echo "FAIL $file: $what ($pattern)"; return 1; }
  done
  echo "ok   $file: $what"
}

check() {
  local migrate="/usr/local/bin/$NAME migrate" failed=0
  expect deploy/fly.toml "migrations before the switch, /readyz checked" \
    "^release_command = \"$migrate\"" '^strategy = "bluegreen"' '^path = "/readyz"' || failed=1
  expect deploy/render.yaml "migrations before traffic, /readyz checked" \
    "preDeployCommand: $migrate\$" 'healthCheckPath: /readyz' || failed=1
  expect deploy/do-app.yaml "a PRE_DEPLOY job migrates, /readyz checked" \
    'kind: PRE_DEPLOY' "run_command: $migrate\$" 'http_path: /readyz' || failed=1
  expect deploy/k8s/migrate-job.yaml "a Job runs the migrations" "name: $NAME-migrate" \
    'args: \["migrate"\]' || failed=1
  expect deploy/k8s/deployment.yaml "pods take traffic when /readyz says so" \
    'readinessProbe:' 'path: /readyz' 'maxUnavailable: 0' || failed=1
  [ "$failed" = 0 ] || die "a manifest would deploy without its release step or health check"
}

# ANCHOR: targets
case "${1:-}" in
  check) check ;;
  fly) run fly deploy --config deploy/fly.toml ;;
  render)
    service=$(need RENDER_SERVICE_ID "the web service's id (render services)")
    run render deploys create "$service" --wait --confirm ;;
  digitalocean)
    app=$(need DIGITALOCEAN_APP_ID "the app's id (doctl apps list)")
    run doctl apps update "$app" --spec deploy/do-app.yaml --wait ;;
  kubernetes) kubernetes ;;
  *) die "usage: just deploy fly|render|digitalocean|kubernetes|check" ;;
esac
# ANCHOR_END: targets
