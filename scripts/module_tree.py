#!/usr/bin/env python3
"""The module tree of a rendered service's src/, with each file's lines of code (its tests, in a
`#[cfg(test)]` module at the bottom or a `tests.rs` beside it, counted apart), for the book.

    module_tree.py SRC_DIR                print the tree
    module_tree.py SRC_DIR --max N        also fail when a file has more than N lines of code
"""
import pathlib
import sys


def code_lines(path):
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#[cfg(test)]") and i + 1 < len(lines) and lines[i + 1].startswith("mod tests {"):
            return i, len(lines) - i
    if path.name == "tests.rs":
        return 0, len(lines)
    return len(lines), 0


def tree(root):
    rows, total = [], 0
    def walk(directory, depth):
        nonlocal total
        entries = sorted(directory.iterdir(), key=lambda p: (p.is_dir(), p.name))
        for entry in entries:
            indent = "    " * depth
            if entry.is_dir():
                rows.append((f"{indent}{entry.name}/", None, None))
                walk(entry, depth + 1)
            elif entry.suffix == ".rs":
                code, tests = code_lines(entry)
                total += code
                rows.append((f"{indent}{entry.name}", code, tests))
    walk(root, 0)
    return rows, total


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = pathlib.Path(sys.argv[1])
    limit = int(sys.argv[sys.argv.index("--max") + 1]) if "--max" in sys.argv else None
    rows, total = tree(root)
    width = max(len(name) for name, _, _ in rows) + 2
    print("src/")
    too_long = []
    for name, code, tests in rows:
        if code is None:
            print(f"    {name}")
            continue
        note = f"{code:5}" + (f"  (+{tests} test lines)" if tests else "")
        print(f"    {name:<{width}}{note}")
        if limit and code > limit:
            too_long.append(f"{name.strip()}: {code} lines of code (at most {limit})")
    print(f"    {'':<{width}}{total:5}  lines of code in all")
    if too_long:
        sys.exit("modules too long to read in one sitting:\n" + "\n".join(too_long))


if __name__ == "__main__":
    main()
