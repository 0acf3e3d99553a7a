#!/usr/bin/env python3
"""Variants as files, not ifs: in the template's Rust (`src/` and `tests/`), Liquid may only
wrap a line or two (a `mod`/`use` line, a field, one wiring call, one test case); whatever a
variant adds beyond that lives in a file of its own. Prints the count of Liquid tags per Rust
file and fails on a longer block.

    liquid_shape.py TEMPLATE_DIR
"""
import pathlib
import re
import sys

# Lines of code (not blank, not comments) one branch of an `{% if %}` may hold.
MAX_LINES = 2
TAG = re.compile(r"\{%-?\s*(if|elsif|else|endif|unless|endunless)\b[^%]*%\}")


def blocks(text):
    """(start line, code lines) of each branch of each `{% if %}`, nested ones included."""
    stack, found = [], []
    for number, line in enumerate(text.splitlines(), 1):
        tags = TAG.findall(line)
        code = TAG.sub("", line).strip()
        counts = code and not code.startswith("//")
        if not tags:
            for branch in stack:
                branch[1] += bool(counts)
            continue
        for tag in tags:
            if tag in ("if", "unless"):
                stack.append([number, 0])
            elif tag in ("elsif", "else"):
                found.append(tuple(stack.pop()))
                stack.append([number, 0])
            else:
                found.append(tuple(stack.pop()))
    return found


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = pathlib.Path(sys.argv[1])
    total, in_src, problems = 0, 0, []
    for path in sorted(root.rglob("*.rs")):
        text = path.read_text()
        tags = len(TAG.findall(text))
        if not tags:
            continue
        total += tags
        in_src += tags if path.relative_to(root).parts[0] == "src" else 0
        for start, lines in blocks(text):
            if lines > MAX_LINES:
                problems.append(f"{path.relative_to(root)}:{start}: an {{% if %}} branch wraps "
                                f"{lines} lines of code; move them into a variant's own file")
        print(f"{tags:4} {path.relative_to(root)}")
    print(f"{total:4} Liquid tags in the template's Rust ({in_src} in src/)")
    if problems:
        sys.exit("\n".join(problems))


if __name__ == "__main__":
    main()
