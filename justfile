# The kit's tasks. Each one calls scripts/kit.sh, which CI and .ci/run call too.

# List the recipes
default:
    @just --list

# Render one variant (minimal, redis, webhooks, full) into DIR, optionally named NAME
render variant dir name="task-svc":
    scripts/kit.sh render {{variant}} {{dir}} {{name}}

# Render every variant into DIR/<variant>
render-all dir="target/kit/fresh":
    scripts/kit.sh render-all {{dir}}

# Re-render examples/ from the template (run after every template change, commit the result)
sync:
    scripts/kit.sh sync

# Refresh template/.sqlx (offline query data) after changing a query; then run `just sync`
prepare:
    scripts/kit.sh prepare

# Fail when examples/ differs from fresh renders
check-sync:
    scripts/kit.sh check-sync

# Test every variant (or the ones named): sync check, fmt, clippy, offline build, tests
test *variants:
    scripts/kit.sh test {{variants}}

# Check that the pre hook refuses bad input
hooks:
    scripts/kit.sh hooks

# Lint the workflows (actionlint), the rendered Dockerfile (hadolint) and the scripts (shellcheck)
lint:
    scripts/kit.sh lint

# Build the course (mdBook) into docs/book
docs:
    scripts/kit.sh docs

# Merge a newer kit version (this checkout's newest release, or VERSION) into the service in DIR
update dir *version:
    scripts/kit.sh update {{dir}} {{version}}

# Exit 1 when a newer kit release than the one the service in DIR records exists (for its CI)
update-check dir:
    scripts/kit.sh update-check {{dir}}
