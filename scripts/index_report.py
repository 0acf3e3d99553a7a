"""Writes docs/src/index-report.md: the task list queries on a seeded table (1M tasks for one
user, 400k for others), with EXPLAIN (ANALYZE, BUFFERS) before and after the list indexes of
migrations/0005_tasks.up.sql, and deep offset pages against deep keyset pages; then the admin
user list on 200k accounts before and after the covering index of
migrations/0008_users_covering_index.up.sql.

Usage: python3 scripts/index_report.py SERVICE_DIR DATABASE_SERVER_URL
  SERVICE_DIR          a rendered service (its migrations are applied to a scratch database)
  DATABASE_SERVER_URL  e.g. postgres://postgres@127.0.0.1:5432/postgres (the database part is
                       replaced by a scratch database, created and dropped here)
"""
import datetime
import os
import pathlib
import re
import statistics
import subprocess
import sys

OWNER = "00000000-0000-7000-8000-000000000001"
ROWS = 1_000_000
DEPTH = 500_000
RUNS = 5
USERS = 200_000
USER_DEPTH = 100_000
USER_COLUMNS = ("id, email, display_name, role, disabled_at IS NOT NULL AS disabled, created_at, "
                "updated_at")
COLUMNS = "id, owner_id, title, description, status, due_at, version, created_at, updated_at"

SEED = """
INSERT INTO users (id, email, email_key, display_name, password_hash, pepper_id)
SELECT ('00000000-0000-7000-8000-00000000000' || n)::uuid, 'user' || n || '@example.com',
       'user' || n || '@example.com', 'User ' || n, 'not-a-hash', 1
FROM generate_series(1, 3) AS n;
INSERT INTO tasks (id, owner_id, title, description, status, due_at, created_at, updated_at)
SELECT gen_random_uuid(), ('00000000-0000-7000-8000-00000000000' || (1 + (n > {rows})::int + (n > {rows} + 200000)::int))::uuid,
       'Task ' || substr(md5(n::text), 1, 12), '',
       (ARRAY['todo', 'in_progress', 'done'])[1 + n % 3],
       CASE WHEN n % 4 = 0 THEN NULL ELSE now() + (n % 365) * interval '1 day' END,
       now() - n * interval '1 second', now() - n * interval '1 second'
FROM generate_series(1, {rows} + 400000) AS n;
INSERT INTO users (id, email, email_key, display_name, password_hash, pepper_id, created_at)
SELECT gen_random_uuid(), 'member' || n || '@example.com', 'member' || n || '@example.com',
       'Member ' || n, 'not-a-hash', 1, now() - n * interval '1 second'
FROM generate_series(1, {users}) AS n;
"""


def psql(url, sql):
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def main(service, server_url):
    base = server_url.split("?")[0].rsplit("/", 1)[0]
    url = f"{base}/kit_index_report"
    admin = f"{base}/postgres"
    psql(admin, "DROP DATABASE IF EXISTS kit_index_report WITH (FORCE)")
    psql(admin, "CREATE DATABASE kit_index_report")
    try:
        env = dict(os.environ, DATABASE_URL=url)
        subprocess.run(["sqlx", "migrate", "run", "--source", f"{service}/migrations"],
                       check=True, capture_output=True, env=env)
        psql(url, SEED.format(rows=ROWS, users=USERS))
        psql(url, "VACUUM ANALYZE tasks")
        indexes = re.findall(r"^CREATE INDEX tasks_[^;]+;",
                             pathlib.Path(service, "migrations/0005_tasks.up.sql").read_text(), re.M)
        names = [re.search(r"INDEX (\w+)", i).group(1) for i in indexes]
        deep = psql(url, f"SELECT created_at || '|' || id FROM tasks WHERE owner_id = '{OWNER}' "
                         f"ORDER BY created_at DESC, id DESC OFFSET {DEPTH} LIMIT 1").split("|")
        select = f"SELECT {COLUMNS} FROM tasks WHERE owner_id = '{OWNER}'"
        queries = [
            ("first page, newest first", f"{select} ORDER BY created_at DESC, id DESC LIMIT 21"),
            (f"offset page at depth {DEPTH:,}",
             f"{select} ORDER BY created_at DESC, id DESC LIMIT 21 OFFSET {DEPTH}"),
            (f"keyset page at depth {DEPTH:,}",
             f"{select} AND (created_at, id) < ('{deep[0]}', '{deep[1]}') "
             "ORDER BY created_at DESC, id DESC LIMIT 21"),
            ("status = done, newest first",
             f"{select} AND status = 'done' ORDER BY created_at DESC, id DESC LIMIT 21"),
            ("sorted by title", f"{select} ORDER BY title ASC, id ASC LIMIT 21"),
            ("due in 30..60 days, by due date",
             f"{select} AND due_at IS NOT NULL AND due_at >= now() + interval '30 days' "
             "AND due_at < now() + interval '60 days' ORDER BY due_at ASC, id ASC LIMIT 21"),
        ]

        def measure(queries=queries):
            results = []
            for title, sql in queries:
                plans = [psql(url, f"EXPLAIN (ANALYZE, BUFFERS) {sql}") for _ in range(RUNS)]
                times = [float(re.search(r"Execution Time: ([\d.]+) ms", p).group(1)) for p in plans]
                results.append((title, sql, statistics.median(times), plans[-1]))
            return results

        for name in names:
            psql(url, f"DROP INDEX {name}")
        before = measure()
        for index in indexes:
            psql(url, index)
        psql(url, "ANALYZE tasks")
        after = measure()

        # The admin user list, as infra::users::list runs it: a page and the total.
        user_select = f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id LIMIT 20"
        user_queries = [
            ("first page", user_select),
            (f"offset page at depth {USER_DEPTH:,}", f"{user_select} OFFSET {USER_DEPTH}"),
            ("the total", "SELECT count(*) FROM users"),
        ]
        covering = re.search(r"^CREATE INDEX users_page_idx[^;]+;", pathlib.Path(
            service, "migrations/0008_users_covering_index.up.sql").read_text(), re.M).group(0)
        psql(url, "DROP INDEX users_page_idx")
        psql(url, "CREATE INDEX users_created_at_idx ON users (created_at, id)")
        # Index-only scans skip the heap only for pages the visibility map marks all-visible,
        # which VACUUM sets: both sides are measured freshly vacuumed.
        psql(url, "VACUUM ANALYZE users")
        users_before = measure(user_queries)
        psql(url, "DROP INDEX users_created_at_idx")
        psql(url, covering)
        psql(url, "VACUUM ANALYZE users")
        users_after = measure(user_queries)
        version = psql(url, "SHOW server_version")
    finally:
        psql(admin, "DROP DATABASE IF EXISTS kit_index_report WITH (FORCE)")

    lines = [
        "# Index report: the task list queries",
        "",
        f"Generated by `scripts/index_report.py` on {datetime.date.today()} (PostgreSQL {version}, "
        "the kit's 2-core build machine). Regenerate with `scripts/kit.sh index-report`.",
        "",
        f"The table holds {ROWS:,} tasks of one user and 400,000 of two others (generated as "
        "`seed-tasks` does: spread creation times, a third of each status, three in four with a due "
        f"date). Each query is the one `infra::tasks::list_query` builds, for a page of 20 (plus one "
        f"to detect the next page). Times are the median `Execution Time` of {RUNS} runs of "
        "`EXPLAIN (ANALYZE, BUFFERS)`, warm cache; compare them with each other, not with your "
        "machine.",
        "",
        "**Before**: only the primary key. **After**: the indexes of `migrations/0005_tasks.up.sql`: "
        + ", ".join(f"`{n}`" for n in names) + ".",
        "",
        "| query | before (ms) | after (ms) |",
        "|---|---:|---:|",
    ]
    for (title, _, b, _), (_, _, a, _) in zip(before, after):
        lines.append(f"| {title} | {b:.2f} | {a:.2f} |")
    lines += [
        "",
        "What to read from it:",
        "",
        "- Without the indexes every query scans and sorts all of the user's rows, whatever the page.",
        "- With them, a page is an index range scan that stops after 21 rows. The keyset page deep "
        "in the list costs what the first page does; the offset page at the same depth still walks "
        f"{DEPTH:,} index entries to skip them, which is why the API offers `cursor`.",
        "- `status = done` uses the composite `(owner_id, status, created_at, id)` index; the due-date "
        "range uses the partial index on tasks that have a due date.",
        "",
        "## Covering index: the admin user list",
        "",
        f"The same database with {USERS:,} more accounts. The query is the one "
        "`infra::users::list` runs for `GET /users` (a page of 20 in creation order, and the "
        "total). **Before**: the plain `(created_at, id)` index of `migrations/0002_users.up.sql`. "
        "**After**: the covering index of `migrations/0008_users_covering_index.up.sql`, which "
        "carries every returned column: `" + " ".join(covering.split()) + "`. Both measured right "
        "after `VACUUM ANALYZE users`.",
        "",
        "| query | before (ms) | after (ms) | before, read from | after, read from |",
        "|---|---:|---:|---:|---:|",
    ]
    heap = lambda plan: sum(int(n) for n in re.findall(r"Heap Fetches: (\d+)", plan))
    fetched = lambda plan: "index only" if "Index Only Scan" in plan else "table rows"
    for (title, _, b, pb), (_, _, a, pa) in zip(users_before, users_after):
        lines.append(f"| {title} | {b:.2f} | {a:.2f} | {fetched(pb)} | {fetched(pa)} ({heap(pa)} heap fetches) |")
    lines += [
        "",
        "What to read from it: before, each row of the page (and each skipped row of an offset "
        "page) is found in the index and then read from the table; after, the index answers alone "
        "(`Index Only Scan`, `Heap Fetches: 0` on a vacuumed table). The price: a wider index to "
        "keep up on every insert and on every update of an included column, and the gain fades on "
        "pages the visibility map no longer marks all-visible, until autovacuum runs again.",
        "",
        "## Plans",
        "",
    ]
    for label, results in (("Before", before), ("After", after), ("Users, before", users_before),
                           ("Users, after", users_after)):
        for title, sql, median, plan in results:
            lines += [f"### {label}: {title} ({median:.2f} ms)", "", "```sql", sql, "```", "", "```text", plan, "```", ""]
    out = pathlib.Path(__file__).resolve().parent.parent / "docs/src/index-report.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}")
    for (title, _, b, _), (_, _, a, _) in zip(before + users_before, after + users_after):
        print(f"{title:40} before {b:10.2f} ms   after {a:8.2f} ms")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
