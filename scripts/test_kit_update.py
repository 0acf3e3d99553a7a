#!/usr/bin/env python3
"""Round trip of `scripts/kit.sh update` / `update-check` (scripts/kit_update.py).

  python3 scripts/test_kit_update.py [KIT_ROOT] [--keep]

Snapshots the kit's working tree (cargo-generate.toml, template/, hooks/, CHANGELOG.md: the
files as they are now, committed or not) into a temporary git repository tagged as its current
kit_version, renders the full variant from it and commits that as a user's service, then
releases newer kit versions and updates the service with the kit's scripts/kit_update.py
(run with --service): user edits survive, kit changes arrive, conflicts, deleted and ignored
files, a dirty tree and untagged revisions behave as documented, and a user's
commit.gpgSign = true signs (and prompts for) nothing. Needs git and cargo-generate
(installed pinned when missing, as scripts/kit.sh does). `just` is not needed. Exit 1 on the
first failed check. --keep leaves the temporary directory behind.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CARGO_GENERATE_VERSION = "0.23.14"
NAME = "task-svc"
KIT_PARTS = ("cargo-generate.toml", "template", "hooks", "CHANGELOG.md")
HANDLER = "src/http/tasks/mod.rs"    # kit and user both edit it
README = "README.md"
DELETED = "deploy/render.yaml"       # the user deletes it, the newer kit changes it
ADDED = "docs/kit-news.md"           # the newer kit adds it
SHIELDED = "docs/local-notes.md"     # the newer kit adds it where the user has an ignored file
# Tests run with a known git identity and none of the machine's git configuration.
ENV = {
    **{k: v for k, v in os.environ.items() if k not in ("KIT_REPOSITORY", "GIT_DIR",
                                                        "GIT_INDEX_FILE", "GIT_WORK_TREE")},
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "user@example.com",
}


class Failed(Exception):
    pass


class Checks:
    passed = 0


def check(condition, what, detail=""):
    if not condition:
        raise Failed(f"{what}\n{detail}".rstrip())
    Checks.passed += 1


def sh(cmd, cwd, expect=0, env=None):
    """Run a command; with `expect` set, its exit code must be that."""
    proc = subprocess.run(cmd, cwd=cwd, env=env or ENV, capture_output=True, text=True)
    if expect is not None and proc.returncode != expect:
        raise Failed(f"`{' '.join(map(str, cmd))}` in {cwd} exited {proc.returncode}, "
                     f"expected {expect}\n{proc.stdout}{proc.stderr}")
    return proc


def git(cwd, *args, expect=0):
    return sh(["git", *args], cwd, expect).stdout


def kit_tool(service, *args, expect=None, env=None):
    """The kit's scripts/kit_update.py on `service`, as `scripts/kit.sh update` runs it."""
    script = Path(__file__).resolve().parent / "kit_update.py"
    command = [sys.executable, str(script), *args, "--service", str(service)]
    proc = sh(command, Path(__file__).resolve().parent, expect=None, env=env)
    output = proc.stdout + proc.stderr
    print(f"  $ kit_update.py {' '.join(args)}  -> exit {proc.returncode}")
    if expect is not None:
        check(proc.returncode == expect, f"kit_update.py {' '.join(args)} exits {expect}",
              f"exit {proc.returncode}\n{output}")
    return proc.returncode, output


def read(path):
    return Path(path).read_text(encoding="utf-8")


def write(path, text):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


def replace_line(path, old, new):
    text = read(path)
    check(text.count(old + "\n") == 1, f"{path} holds the line {old!r} once")
    write(path, text.replace(old + "\n", new + "\n"))


def kit_version_of(record):
    return re.search(r'^kit_version = "(.*)"$', read(record), re.M)[1]


def set_kit_version(record, version):
    text = read(record)
    write(record, re.sub(r'^kit_version = ".*"$', f'kit_version = "{version}"', text, flags=re.M))


def add_changelog_entry(kit, heading, line):
    path = kit / "CHANGELOG.md"
    text = read(path)
    at = text.find("\n## ") + 1 if "\n## " in text else len(text)
    write(path, f"{text[:at]}## {heading}\n\n- {line}\n\n{text[at:]}")


def commit_all(repo, message):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


# ---------------------------------------------------------------------------- setting up


def ensure_cargo_generate():
    proc = subprocess.run(["cargo", "generate", "--version"], capture_output=True, text=True)
    if proc.returncode != 0 or CARGO_GENERATE_VERSION not in proc.stdout:
        print(f"installing cargo-generate {CARGO_GENERATE_VERSION} (a few minutes, once)")
        subprocess.run(["cargo", "install", "cargo-generate", "--locked", "--version",
                        CARGO_GENERATE_VERSION], check=True)


def kit_files(root):
    """The kit's files as they are in its working tree: tracked or new, not ignored."""
    proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                           "--", *KIT_PARTS], cwd=root, capture_output=True, text=True)
    if proc.returncode == 0:
        return sorted({p for p in proc.stdout.split("\0") if p and
                       os.path.lexists(root / p)})
    # Not a git checkout (an unpacked archive): take the parts as they are.
    files = []
    for part in KIT_PARTS:
        path = root / part
        if path.is_file():
            files.append(part)
        for dirpath, _, names in os.walk(path):
            files += [str(Path(dirpath, n).relative_to(root)) for n in names]
    return sorted(files)


def snapshot_kit(root, kit):
    """A git repository holding the kit's current files, tagged as its kit_version."""
    kit.mkdir()
    for rel in kit_files(root):
        if "__pycache__" in Path(rel).parts:  # Python's byte-code cache, never kit content
            continue
        (kit / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, kit / rel, follow_symlinks=False)
    git(kit, "init", "-q", "-b", "main")
    commit_all(kit, "kit snapshot")
    version = kit_version_of(kit / "template/.template.toml")
    git(kit, "tag", f"v{version}")
    return version


def render_service(kit, rev, dest, work):
    """What a user does: render the full variant from a kit release."""
    export = work / "export"
    shutil.rmtree(export, ignore_errors=True)
    export.mkdir()
    archive = subprocess.run(["git", "archive", rev, "cargo-generate.toml", "template", "hooks"],
                             cwd=kit, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(export)], input=archive.stdout, check=True)
    out = work / "render-out"
    out.mkdir()
    sh(["cargo", "generate", "--path", str(export), "template", "--name", NAME, "--silent",
        "--vcs", "none", "--no-workspace", "-d", "redis=true", "-d", "webhooks=true",
        "--destination", str(out)], work)
    (out / NAME).rename(dest)
    out.rmdir()


def unique_lines(lines, template_text):
    """Indexes of lines that appear once in the render and once in the template source."""
    return [i for i, line in enumerate(lines)
            if line.strip() and lines.count(line) == 1 and template_text.count(line + "\n") == 1]


def bump_minor(version):
    major, minor, _ = map(int, version.split("."))
    return f"{major}.{minor + 1}.0"


# ---------------------------------------------------------------------------- the round trip


def round_trip(root, work):
    ensure_cargo_generate()
    kit = work / "kit"
    v1 = snapshot_kit(root, kit)
    v2 = bump_minor(v1)
    v3 = bump_minor(v2)
    print(f"kit snapshot of {root} tagged v{v1}")

    svc = work / NAME
    render_service(kit, f"v{v1}", svc, work)
    plain_copy = work / "not-a-repo"
    shutil.copytree(svc, plain_copy, symlinks=True)
    git(svc, "init", "-q", "-b", "main")
    commit_all(svc, f"{NAME} from kit {v1}")

    check(not (svc / "scripts" / "kit_update.py").exists(),
          "the updater is the kit's, not a copy in every service")
    check(not re.search(r"^commit = ", read(svc / ".template.toml"), re.M),
          "a release render records no commit")

    # Lines to edit, found in this render so the test follows the template as it changes:
    # the kit changes one early in the handler, the user one late in it (far apart, so both
    # merge), and a second user changes the kit's line (a conflict).
    handler = read(svc / HANDLER).splitlines()
    candidates = unique_lines(handler, read(kit / "template" / HANDLER))
    kit_line = handler[candidates[len(candidates) // 4]]
    user_line = handler[candidates[3 * len(candidates) // 4]]
    check(abs(handler.index(kit_line) - handler.index(user_line)) > 10,
          "the kit's and the user's handler lines are far apart")
    readme = read(svc / README).splitlines()
    headings = [readme[i] for i in unique_lines(readme, read(kit / "template" / README))
                if readme[i].startswith("## ")]
    kit_heading = headings[-1]
    description = readme[2]  # `{{description}}` in the template
    check(description == "A task service built on Axum and SQLx",
          "the README's third line is the description")

    # --- the newer kit: a release v2
    t = kit / "template"
    set_kit_version(t / ".template.toml", v2)
    add_changelog_entry(kit, v2, "A release made by the kit-update test.")
    replace_line(t / HANDLER, kit_line, f"{kit_line} // kit {v2}")
    replace_line(t / README, kit_heading, f"{kit_heading} (kit {v2})")
    write(t / DELETED, read(t / DELETED) + f"# kit {v2}\n")
    write(t / ADDED, f"New in kit {v2}.\n")
    write(t / SHIELDED, f"The kit's notes, {v2}.\n")
    commit_all(kit, f"Kit {v2}")
    git(kit, "tag", f"v{v2}")

    # --- the user's own work, committed, plus ignored files that must not be touched
    replace_line(svc / HANDLER, user_line, f"{user_line} // ours")
    replace_line(svc / README, description, "Our team's own task service.")
    git(svc, "rm", "-q", DELETED)
    commit_all(svc, "Our changes")
    conflicting = work / "conflicting"
    git(work, "clone", "-q", str(svc), str(conflicting))
    ignored = {".env": "SECRET=ours\n", "target/debug/marker": "build output\n",
               SHIELDED: "my own notes\n"}
    for rel, text in ignored.items():
        write(svc / rel, text)
    with open(svc / ".git/info/exclude", "a", encoding="utf-8") as exclude:
        exclude.write(f"/{SHIELDED}\n")
    check(git(svc, "status", "--porcelain") == "", "ignored files leave the tree clean")

    print("check, refusals")
    code, out = kit_tool(svc, "check", "--kit", str(kit), expect=1)
    check(f"behind: {v1} -> {v2}, run scripts/kit.sh update" in out, "check says behind", out)
    code, out = kit_tool(svc, "check", "--kit", str(work / "no-such-kit"), expect=2)
    check("cannot reach the kit" in out, "an unreachable kit is reported", out)
    code, out = kit_tool(plain_copy, "update", "--kit", str(kit), expect=2)
    check("not in a git repository" in out, "update outside git is refused", out)

    head = git(svc, "rev-parse", "HEAD")
    dirty_readme = read(svc / README) + "uncommitted line\n"
    write(svc / README, dirty_readme)
    code, out = kit_tool(svc, "update", "--kit", str(kit))
    check(code != 0 and "uncommitted changes" in out, "a dirty tree is refused", out)
    check(read(svc / README) == dirty_readme and git(svc, "rev-parse", "HEAD") == head
          and git(svc, "diff", "--cached", "--name-only") == ""
          and kit_version_of(svc / ".template.toml") == v1,
          "a refused update changes nothing")
    git(svc, "checkout", "-q", "--", README)
    write(svc / "scratch.txt", "untracked\n")
    code, out = kit_tool(svc, "update", "--kit", str(kit))
    check(code != 0 and "scratch.txt" in out, "an untracked file is refused too", out)
    (svc / "scratch.txt").unlink()

    print(f"update {v1} -> {v2}, for a user who signs commits")
    # The throwaway commits must never be signed: with commit.gpgSign on, a signing program
    # that cannot sign (or would ask for a passphrase) must not be run at all.
    fake_gpg = work / "fake-gpg"
    signed = work / "fake-gpg-was-run"
    write(fake_gpg, f"#!/bin/sh\necho called >> '{signed}'\nexit 1\n")
    fake_gpg.chmod(0o755)
    git(svc, "config", "commit.gpgSign", "true")
    git(svc, "config", "gpg.program", str(fake_gpg))
    code, out = kit_tool(svc, "update", "--kit", str(kit), expect=0)
    check(not signed.exists(), "update signs nothing, even with commit.gpgSign = true", out)
    git(svc, "config", "--unset", "commit.gpgSign")
    git(svc, "config", "--unset", "gpg.program")
    check("git commit" in out and "Review" in out, "update says to review, test and commit", out)
    check(f"## {v2}" in out, "update shows the CHANGELOG entry it brings", out)
    text = read(svc / HANDLER)
    check(f"{kit_line} // kit {v2}\n" in text, "the kit's handler change arrived")
    check(f"{user_line} // ours\n" in text, "the user's handler change survived")
    text = read(svc / README)
    check(f"{kit_heading} (kit {v2})\n" in text, "the kit's README change arrived")
    check("Our team's own task service.\n" in text and description not in text,
          "the user's README change survived")
    check(read(svc / ADDED) == f"New in kit {v2}.\n", "the kit's new file arrived")
    check(not (svc / DELETED).exists() and DELETED not in git(svc, "ls-files"),
          "the file the user deleted stays deleted", out)
    check(f"kept deleted: {DELETED}" in out, "update says it kept the deletion", out)
    for rel, content in ignored.items():
        check(read(svc / rel) == content, f"ignored file {rel} untouched")
    check(SHIELDED not in git(svc, "ls-files") and f"kept yours: {SHIELDED}" in out,
          "the kit's new file is not forced over an ignored file of the user's", out)
    record = read(svc / ".template.toml")
    check(kit_version_of(svc / ".template.toml") == v2, "the record holds the new version",
          record)
    check(f'project-name = "{NAME}"' in record and "redis = true" in record
          and "webhooks = true" in record and not re.search(r"^commit = ", record, re.M),
          "the record keeps the answers and has no commit entry", record)
    check(git(svc, "status", "--porcelain", "--untracked-files=no").strip() and
          git(svc, "diff", "--name-only") == "", "the update is staged, nothing unstaged")
    check(not sh(["git", "grep", "-n", "-e", "^<<<<<<< ", "-e", "^>>>>>>> "], svc,
                 expect=None).stdout, "no conflict markers")
    git(svc, "commit", "-q", "-m", f"Update to kit {v2}")
    kit_tool(svc, "check", "--kit", str(kit), expect=0)
    code, out = kit_tool(svc, "check", expect=0, env={**ENV, "KIT_REPOSITORY": str(kit)})
    check(f"up to date ({v2})" in out, "check says up to date (KIT_REPOSITORY)", out)
    code, out = kit_tool(svc, "update", "--kit", str(kit), expect=0)
    check(f"already at {v2}" in out, "a second update says already at", out)

    print("a conflicting edit")
    replace_line(conflicting / HANDLER, kit_line, f"{kit_line} // ours, conflicting")
    commit_all(conflicting, "Our conflicting change")
    head = git(conflicting, "rev-parse", "HEAD")
    code, out = kit_tool(conflicting, "update", v2, "--kit", str(kit), expect=1)
    check(HANDLER in out.splitlines(), "the conflicted file is named on its own line", out)
    check("git reset --merge" in out and "git add" in out, "says how to finish or abort", out)
    text = read(conflicting / HANDLER)
    check(all(re.search(f"^{m}", text, re.M) for m in ("<<<<<<< ", r"\|\|\|\|\|\|\| ",
                                                       "=======$", ">>>>>>> ")),
          "diff3 conflict markers in the file")
    check(f"{kit_line} // ours, conflicting" in text and f"{kit_line} // kit {v2}" in text,
          "both sides are in the conflict")
    check(read(conflicting / ADDED) == f"New in kit {v2}.\n",
          "the rest of the update is applied beside the conflict")
    git(conflicting, "reset", "-q", "--merge")
    check(git(conflicting, "status", "--porcelain") == "" and
          git(conflicting, "rev-parse", "HEAD") == head, "git reset --merge aborts cleanly")

    print(f"an unreleased revision, then release {v3}; the kit found through the record")
    # From here on the kit's location comes from the record, as a published kit's would.
    replace_line(svc / ".template.toml", 'repository = ""', f'repository = "{kit}"')
    commit_all(svc, "Record where the kit is")
    set_kit_version(t / ".template.toml", v3)
    add_changelog_entry(kit, f"{v3} (unreleased)", "Work towards the next release.")
    write(t / ADDED, read(t / ADDED) + f"Coming in {v3}.\n")
    commit_all(kit, f"Towards {v3}")
    main_sha = git(kit, "rev-parse", "HEAD").strip()
    code, out = kit_tool(svc, "update", "main", expect=0)
    record = read(svc / ".template.toml")
    check(kit_version_of(svc / ".template.toml") == v3 and
          f'commit = "{main_sha}"' in record, "an untagged revision is recorded by commit",
          record)
    check(read(svc / ADDED).endswith(f"Coming in {v3}.\n"), "the unreleased change arrived")
    git(svc, "commit", "-q", "-m", f"Kit main ({main_sha[:10]})")
    code, out = kit_tool(svc, "check", expect=0)
    check("newer than the newest release" in out, "ahead of the newest release is up to date",
          out)
    changelog = read(kit / "CHANGELOG.md").replace(f"## {v3} (unreleased)", f"## {v3}")
    write(kit / "CHANGELOG.md", changelog)
    write(t / ADDED, read(t / ADDED) + f"Released in {v3}.\n")
    commit_all(kit, f"Release {v3}")
    git(kit, "tag", f"v{v3}")
    code, out = kit_tool(svc, "check", expect=1)
    check(f"behind: {v3} (commit {main_sha[:10]}) -> {v3}" in out,
          "a commit before the release is behind it", out)
    code, out = kit_tool(svc, "update", expect=0)
    record = read(svc / ".template.toml")
    check(kit_version_of(svc / ".template.toml") == v3 and
          not re.search(r"^commit = ", record, re.M),
          "updating to a release drops the commit entry", record)
    check(f'repository = "{kit}"' in record, "the user's repository entry survives updates",
          record)
    check(read(svc / ADDED).endswith(f"Released in {v3}.\n"), "the release's change arrived")
    check(f"{user_line} // ours\n" in read(svc / HANDLER), "user edits survive again")
    git(svc, "commit", "-q", "-m", f"Update to kit {v3}")
    kit_tool(svc, "check", expect=0)


def main():
    args = [a for a in sys.argv[1:] if a != "--keep"]
    keep = "--keep" in sys.argv[1:]
    root = Path(args[0] if args else Path(__file__).resolve().parent.parent).resolve()
    if not (root / "scripts/kit_update.py").is_file():
        sys.exit(f"{root} is not the kit (no scripts/kit_update.py)")
    work = Path(tempfile.mkdtemp(prefix="kit-update-test-"))
    started = time.monotonic()
    try:
        round_trip(root, work)
    except Failed as failure:
        print(f"FAILED: {failure}\n(kept {work})", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work)
    print(f"kit-update round trip: {Checks.passed} checks passed ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
