"""Keeps the course honest about the code it teaches.

Usage:
  python3 scripts/check_days.py refs DOCS_SRC SERVICE_DIR   every file and item a day names exists
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
            if file.is_dir():
                continue
            text = file.read_text()
            for item in re.findall(r"`([^`]+)`", items):
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


def _command(day_file):
    check = section(pathlib.Path(day_file).read_text(), "Check")
    block = re.search(r"```sh\n(.*?)```", check or "", re.S)
    if not block:
        sys.exit(f"{day_file}: no ```sh block under '## Check'")
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


def course(docs_src):
    """The parts of the book a rendered service acts on, as JSON (template/docs/course.json):
    each day's title, block, variants and check command (`just progress`), each block's name
    and days (`just gate`), and the security checklist's tests per point (`just gate 3`).
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
                     "check": _command(day)})
    security = []
    for row in re.findall(r"^\| (\d+) \| (.+?) \| (.+?) \|$", (src / "security.md").read_text(), re.M):
        number, prop, enforced = row
        tests = [f"{f}::{fn}" for f, fn in re.findall(r"`(\w+)::(\w+)`", enforced)]
        tests += [f"{f}: {fn}" for f, fn in re.findall(r"`(src/[\w/]+\.rs): (\w+)`", enforced)]
        title = re.match(r"\*\*(.+?)\*\*", prop)
        security.append({"point": int(number), "property": (title.group(1) if title else prop).rstrip(".:"),
                         "webhooks_only": "webhooks variants" in prop,
                         "audit": "cargo audit" in enforced, "tests": tests})
    print(json.dumps({"generated_from": "the kit's docs/src (scripts/check_days.py course)",
                      "blocks": blocks, "days": days, "security": security}, indent=2))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "course":
        sys.exit(course(sys.argv[2]))
    if sys.argv[1] == "refs":
        sys.exit(refs(sys.argv[2], sys.argv[3]))
    if sys.argv[1] == "tests":
        sys.exit(tests(sys.argv[2], sys.argv[3]))
    sys.exit(command(sys.argv[2]))
