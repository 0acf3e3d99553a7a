#!/usr/bin/env python3
"""The crate names a rendered service may not take: every dependency the template's Cargo.toml
names (in any variant, dev-dependencies too), as Rust spells them (`-` becomes `_`). A
package named like one of its own dependencies cannot build.

    reserved_names.py write   put the list into hooks/pre.rhai (between its markers)
    reserved_names.py check   fail when hooks/pre.rhai's list is not the current one
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CARGO = ROOT / "template" / "Cargo.toml"
HOOK = ROOT / "hooks" / "pre.rhai"
BEGIN = "// BEGIN dependency names (scripts/reserved_names.py, from template/Cargo.toml)\n"
END = "// END dependency names\n"


def names():
    found, section = set(), None
    for line in CARGO.read_text().splitlines():
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            section = header.group(1)
            continue
        entry = re.match(r"^([A-Za-z0-9_-]+)\s*=", line)
        if entry and section in ("dependencies", "dev-dependencies", "build-dependencies"):
            found.add(entry.group(1).replace("-", "_"))
    return sorted(found)


def block():
    words = [f'"{name}"' for name in names()]
    lines, line = [], "let dependencies = ["
    for word in words:
        if len(line) + len(word) + 2 > 96:
            lines.append(line.rstrip())
            line = "    "
        line += word + ", "
    lines.append(line.rstrip(", ") + "];")
    return BEGIN + "\n".join(lines) + "\n" + END


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    text = HOOK.read_text()
    current = re.search(re.escape(BEGIN) + ".*?" + re.escape(END), text, re.S)
    if not current:
        sys.exit(f"{HOOK} has no dependency-name markers")
    wanted = block()
    if sys.argv[1] == "write":
        HOOK.write_text(text.replace(current.group(0), wanted))
        print(f"hooks/pre.rhai: {len(names())} dependency names")
    elif current.group(0) != wanted:
        sys.exit("hooks/pre.rhai's dependency names are stale: run scripts/kit.sh sync")
    else:
        print(f"hooks/pre.rhai names all {len(names())} dependencies of template/Cargo.toml")


if __name__ == "__main__":
    main()
