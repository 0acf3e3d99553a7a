"""Keeps the course honest about the code it teaches.

Usage:
  python3 scripts/check_days.py refs DOCS_SRC SERVICE_DIR   every file and item a day names exists
  python3 scripts/check_days.py includes DOCS_SRC [--template]
                                                            every {{#include}} and its anchor
                                                            resolves; every day shows code
  python3 scripts/check_days.py plan DOCS_SRC               chapters follow docs/src/plan.md
  python3 scripts/check_days.py map DOCS_SRC                print the map page (docs/src/map.md)
  python3 scripts/check_days.py command DAY_FILE            print the day's check command
  python3 scripts/check_days.py tests DOC SERVICE_DIR        every test a page names exists
  python3 scripts/check_days.py course DOCS_SRC              the course as data, for the service's
                                                            `just progress` and `just gate`

A day chapter's "## Where in the code" section lists bullets such as
    - `src/config.rs`: `Config::from_env`, `Reader::parse`
The file must exist in the rendered service, and each item's last path segment must be defined
there (fn, struct, enum, trait, const, static, type, mod or macro; in Python, def, class or a
module-level constant; a justfile recipe; or the
literal text of an `impl ... for ...`). Files outside the service
(the kit's own, e.g. `hooks/pre.rhai`) are looked up in the kit instead.
"""
import json
import pathlib
import re
import sys

DEFINITION = r"\b(fn|struct|enum|trait|const|static|type|mod|macro_rules!)\s+{name}\b"
# In Python files (the benchmark harness): functions, classes and module-level constants.
PY_DEFINITION = r"^(\s*(def|class)\s+{name}\b|{name}\s*=)"


def section(text, title):
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    return match.group(1) if match else None


def applies_to(text, service):
    """A chapter about some variants says so in a comment, e.g. `<!-- variants: redis full -->`;
    it is checked against those examples only (the directory name is the variant)."""
    match = re.search(r"<!-- variants: ([\w ]+) -->", text)
    return match is None or pathlib.Path(service).name in match.group(1).split()


def refs(docs_src, service):
    kit = pathlib.Path(__file__).resolve().parent.parent
    problems, checked = [], 0
    for day in sorted(pathlib.Path(docs_src).glob("day-*.md")):
        if not applies_to(day.read_text(), service):
            continue
        where = section(day.read_text(), "Where in the code")
        if where is None:
            problems.append(f"{day.name}: no 'Where in the code' section")
            continue
        for line in where.splitlines():
            match = re.match(r"- `([^`]+)`(?::\s*(.*))?", line.strip())
            if not match:
                continue
            path, items = match.group(1), match.group(2) or ""
            path = path.split(" ")[0]
            file = pathlib.Path(service, path)
            if not file.exists():
                file = kit / path
            if not file.exists():
                problems.append(f"{day.name}: {path} does not exist")
                continue
            checked += 1
            named = re.findall(r"`([^`]+)`", items)
            if file.is_dir() or not named:
                continue
            text = file.read_text()
            for item in named:
                if item.startswith("impl "):
                    found = item in text
                elif file.name == "justfile":
                    found = re.search(rf"^{re.escape(item)}\b[^\n]*:", text, re.M)
                else:
                    name = re.split(r"::|\.", item)[-1]
                    pattern = PY_DEFINITION if file.suffix == ".py" else DEFINITION
                    found = re.search(pattern.format(name=re.escape(name)), text, re.M)
                if not found:
                    problems.append(f"{day.name}: {path} defines no `{item}`")
                checked += 1
    for problem in problems:
        print(problem)
    print(f"course references: {checked} checked, {len(problems)} broken")
    return 1 if problems else 0


def _command(day_file, title="Check", required=True):
    check = section(pathlib.Path(day_file).read_text(), title)
    if check is None and not required:
        return None
    block = re.search(r"```sh\n(.*?)```", check or "", re.S)
    if not block:
        sys.exit(f"{day_file}: no ```sh block under '## {title}'")
    return block.group(1).strip()


def command(day_file):
    print(_command(day_file))
    return 0


def tests(doc, service):
    """Every `file::function` in DOC names a test function in SERVICE_DIR/tests/file.rs, and
    every `src/...rs: function` a function in that source file. A file that this variant does
    not have (e.g. tests/webhooks.rs in minimal) is skipped; the full variant has them all."""
    text = pathlib.Path(doc).read_text()
    problems, checked = [], 0
    named = [(f"tests/{f}.rs", fn) for f, fn in re.findall(r"`(\w+)::(\w+)`", text)]
    named += re.findall(r"`(src/[\w/]+\.rs): (\w+)`", text)
    for path, function in named:
        file = pathlib.Path(service, path)
        if not file.exists() and pathlib.Path(service).name != "full":
            continue
        checked += 1
        if not file.exists() or not re.search(rf"\bfn {function}\b", file.read_text()):
            problems.append(f"{doc}: {path} has no test `{function}`")
    for problem in problems:
        print(problem)
    print(f"tests named by {pathlib.Path(doc).name}: {checked} checked, {len(problems)} missing")
    return 1 if problems or checked == 0 else 0


INCLUDE = re.compile(r"\{\{#(?:include|rustdoc_include)\s+([^}\s]+)\s*\}\}")
# The rendered full variant, which the book quotes; `--template` reads the template instead
# (same paths, same anchors) for drafts not yet synced into examples/.
EXAMPLE = "../../examples/full/"


def includes(docs_src, template=False):
    problems, checked = [], 0
    src = pathlib.Path(docs_src)
    for page in sorted(src.glob("*.md")):
        text = page.read_text()
        found = INCLUDE.findall(text)
        if page.name.startswith("day-") and not any(EXAMPLE in target for target in found):
            problems.append(f"{page.name}: shows no code from {EXAMPLE}")
        for target in found:
            path, _, anchor = target.partition(":")
            if template and path.startswith(EXAMPLE):
                path = "../../template/" + path[len(EXAMPLE):]
            file = (page.parent / path).resolve()
            checked += 1
            if not file.is_file():
                problems.append(f"{page.name}: {target}: no such file")
                continue
            body = file.read_text(errors="replace")
            if not anchor or re.fullmatch(r"[\d:]*", anchor):
                # mdBook strips marker lines only from anchored includes.
                if "ANCHOR" in body and file.suffix != ".md":
                    problems.append(f"{page.name}: {target}: the file has ANCHOR markers, which a "
                                    "whole-file include shows: wrap it in an anchor of its own")
                continue
            start = re.search(rf"ANCHOR:\s*{re.escape(anchor)}\b", body)
            end = re.search(rf"ANCHOR_END:\s*{re.escape(anchor)}\b", body)
            if not (start and end and start.start() < end.start()):
                problems.append(f"{page.name}: {target}: no anchor '{anchor}' (ANCHOR: ... ANCHOR_END:)")
    for problem in problems:
        print(problem)
    print(f"includes: {checked} checked, {len(problems)} broken")
    return 1 if problems else 0


def plan_days(docs_src):
    """The plan's days: number -> (topic, artifact line), and its blocks' ranges."""
    text = (pathlib.Path(docs_src) / "plan.md").read_text()
    days = {}
    for number, topic, kind, artifact in re.findall(
            r"^\*\*Day (\d+)\.\*\* (.+?)\s*\n_(Artifact|Target):_ (.+?)\s*$", text, re.M):
        days[int(number)] = (topic.strip(), f"{kind}: {artifact.strip()}")
    blocks = [(int(a), int(b)) for a, b in re.findall(r"^## .*?\(Days (\d+)\D(\d+)\)", text, re.M)]
    return days, blocks


def chapter_plan_line(text):
    match = re.search(r"^> \*\*The plan\*\* (.+?)\s*$", text, re.M)
    return match.group(1) if match else None


def plan(docs_src):
    """Chapter N is titled with the plan's day N topic and quotes its artifact; the book's
    blocks have the plan's boundaries, each closed by its Go/No-Go section."""
    src = pathlib.Path(docs_src)
    days, blocks = plan_days(docs_src)
    problems = []
    if len(days) != 40:
        problems.append(f"plan.md: {len(days)} days found, 40 expected")
    for number, (topic, artifact) in sorted(days.items()):
        page = src / f"day-{number:02}.md"
        if not page.exists():
            problems.append(f"{page.name}: missing")
            continue
        text = page.read_text()
        title = re.match(r"# Day (\d+) \W (.+)", text)
        if not title or int(title.group(1)) != number or title.group(2).strip() != topic:
            problems.append(f"{page.name}: title must be 'Day {number} — {topic}'")
        quoted = chapter_plan_line(text)
        if quoted != artifact:
            problems.append(f"{page.name}: '> **The plan** ...' must quote '{artifact}', not {quoted!r}")
    summary = (src / "SUMMARY.md").read_text()
    book_blocks = [(int(a), int(b)) for a, b in re.findall(r"^# Block \d+: .+? \(days (\d+)\D+(\d+)\)$", summary, re.M)]
    if book_blocks != blocks:
        problems.append(f"SUMMARY.md: blocks {book_blocks}, the plan's are {blocks}")
    for _, last in blocks:
        if "## Go/No-Go" not in (src / f"day-{last:02}.md").read_text():
            problems.append(f"day-{last:02}.md: closes a block but has no '## Go/No-Go' section")
    for problem in problems:
        print(problem)
    print(f"plan: {len(days)} days and {len(blocks)} blocks checked, {len(problems)} problems")
    return 1 if problems else 0


def map_page(docs_src):
    """The map: each day's plan topic and artifact, the files and tests that hold it, and its
    check. Written by `scripts/kit.sh sync`; `check-sync` fails when it is stale."""
    src = pathlib.Path(docs_src)
    days, _ = plan_days(docs_src)
    lines = ["# Map: the plan's days in the service", "",
             "Generated from the chapters by `scripts/check_days.py map`; `scripts/kit.sh check-days`",
             "checks every file and test below against each variant, and runs every check.", "",
             "| Day | The plan | Artifact | Where in the service | Check |", "|---|---|---|---|---|"]
    for day in sorted(src.glob("day-*.md")):
        text = day.read_text()
        number = int(re.match(r"# Day (\d+)", text).group(1))
        topic, artifact = days.get(number, ("?", "?"))
        where = section(text, "Where in the code") or ""
        paths = [m.split(" ")[0] for m in re.findall(r"^- `([^`]+)`", where, re.M)]
        check = _command(day).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| [{number}]({day.name}) | {topic} | {artifact.split(': ', 1)[1]} | "
                     f"{', '.join(f'`{p}`' for p in paths)} | `{check}` |")
    print("\n".join(lines))
    return 0


def course(docs_src):
    """The parts of the book a rendered service acts on, as JSON (template/docs/course.json):
    each day's title, block, variants, check command (the day's promise, `just gate exit`) and
    exercise check (`just exercise`, `just progress`; null while the day has none), each block's
    name and days (`just gate`), and the security checklist's tests per point (`just gate 3`).
    `scripts/kit.sh sync` writes it and `check-sync` fails when it is stale."""
    src = pathlib.Path(docs_src)
    blocks = []
    for number, name, first, last in re.findall(
            r"^# Block (\d+): (.+?) \(days (\d+)\D+(\d+)\)$", (src / "SUMMARY.md").read_text(), re.M):
        blocks.append({"block": int(number), "name": name, "days": [int(first), int(last)]})
    days = []
    for day in sorted(src.glob("day-*.md")):
        text = day.read_text()
        number, title = re.match(r"# Day (\d+) \W (.+)", text).groups()
        variants = re.search(r"<!-- variants: ([\w ]+) -->", text)
        block = next(b["block"] for b in blocks if b["days"][0] <= int(number) <= b["days"][1])
        days.append({"day": int(number), "title": title, "block": block,
                     "variants": variants.group(1).split() if variants else None,
                     "check": _command(day), "exercise": _command(day, "Exercise check", required=False)})
    security = []
    for row in re.findall(r"^\| (\d+) \| (.+?) \| (.+?) \|$", (src / "security.md").read_text(), re.M):
        number, prop, enforced = row
        tests = [f"{f}::{fn}" for f, fn in re.findall(r"`(\w+)::(\w+)`", enforced)]
        tests += [f"{f}: {fn}" for f, fn in re.findall(r"`(src/[\w/]+\.rs): (\w+)`", enforced)]
        title = re.match(r"\*\*(.+?)\*\*", prop)
        security.append({"point": int(number), "property": (title.group(1) if title else prop).rstrip(".:"),
                         "webhooks_only": "webhooks variants" in prop,
                         "redis_only": "redis variants" in prop,
                         "audit": "cargo audit" in enforced, "tests": tests})
    print(json.dumps({"generated_from": "the kit's docs/src (scripts/check_days.py course)",
                      "blocks": blocks, "days": days, "security": security}, indent=2))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "includes":
        sys.exit(includes(sys.argv[2], "--template" in sys.argv))
    if sys.argv[1] == "plan":
        sys.exit(plan(sys.argv[2]))
    if sys.argv[1] == "map":
        sys.exit(map_page(sys.argv[2]))
    if sys.argv[1] == "course":
        sys.exit(course(sys.argv[2]))
    if sys.argv[1] == "refs":
        sys.exit(refs(sys.argv[2], sys.argv[3]))
    if sys.argv[1] == "tests":
        sys.exit(tests(sys.argv[2], sys.argv[3]))
    sys.exit(command(sys.argv[2]))
