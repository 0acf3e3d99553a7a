#!/usr/bin/env python3
"""Merge a newer version of the starter kit into a service rendered from it, or check
whether one exists. Run from a checkout of the kit (the newer one: the updater comes with
the version it updates to):

  python3 scripts/kit_update.py update [VERSION] [--service DIR] [--kit URL_OR_PATH]
  python3 scripts/kit_update.py check [--service DIR] [--kit URL_OR_PATH]

(`scripts/kit.sh update DIR [VERSION]` and `scripts/kit.sh update-check DIR` call these.)

The service's `.template.toml` records the kit version that rendered it and every answer it
was given. `update` renders that version and the new one again from those answers, commits
both renders as two throwaway commits in the service's repository, and cherry-picks the
second onto its work: a three-way merge whose base is the service as the kit first gave it,
so its edits stay and the kit's changes arrive. Python standard library only; needs git and
cargo.
"""

import argparse
import filecmp
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Renders must repeat byte for byte, so both are made by the version that renders the kit's
# examples (scripts/kit.sh in the kit pins the same one).
CARGO_GENERATE_VERSION = "0.23.14"
RECORD = ".template.toml"
# What a kit release is: a git tag vX.Y.Z (the kit's CHANGELOG.md and release workflow).
RELEASE_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
VERSION_ARGUMENT = re.compile(r"^v?(\d+\.\d+\.\d+)$")
# `key = "value"` in the record; TOML basic strings escape like JSON strings.
ENTRY = re.compile(r'^([A-Za-z0-9_-]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$')
# The kit's parts that cargo-generate needs (`--path <dir> template`); nothing else is copied.
KIT_PARTS = ("cargo-generate.toml", "template", "hooks")
# The throwaway commits need an identity even where git has none configured.
MACHINE = {
    "GIT_AUTHOR_NAME": "kit-update",
    "GIT_AUTHOR_EMAIL": "kit-update@localhost",
    "GIT_COMMITTER_NAME": "kit-update",
    "GIT_COMMITTER_EMAIL": "kit-update@localhost",
}
# The kit checkout this file belongs to (<kit>/scripts/kit_update.py): where releases come
# from unless told otherwise.
KIT = Path(__file__).resolve().parent.parent
# The service being updated (--service, default the current directory); set by main().
ROOT = Path.cwd()

HELP = """\
update [VERSION]  merge kit VERSION into this service: a release (0.2.0 or v0.2.0) or any
                  branch, tag or commit of the kit; the newest release when omitted. Needs a
                  clean working tree (commit or stash first). Exit 0 when merged (review, test,
                  commit), 1 on conflicts (standard conflict markers; resolve, git add, commit;
                  or abort with `git reset --merge`), 2 on any other error.
check             exit 0 when the recorded kit_version is the newest release, 1 when a newer
                  one exists, 2 when the kit cannot be reached. For CI.

Which service: --service DIR, else the current directory.
Where the kit is: --kit URL_OR_PATH, else the KIT_REPOSITORY environment variable, else
`repository` under [template] in the service's .template.toml, else the kit checkout this
script is in.

How update works: the version recorded in .template.toml (tag v<kit_version>, or `commit`
when the record has one) and the new version are each rendered with cargo-generate
{cg} from the recorded answers. Files you deleted are left out of both renders (they stay
deleted); your ignored files (target/, .env) are never touched. The difference between the
two renders is then merged into your work with `git cherry-pick --no-commit` (diff3 conflict
style), and .template.toml itself records the new version. Nothing is committed for you.
""".format(cg=CARGO_GENERATE_VERSION)


class Stop(Exception):
    """A failure to report to the user, with the exit code to leave with."""

    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


@dataclass
class Revision:
    """One kit revision to render: its commit, how to name it, and the record's `commit`
    entry (set only when the revision is not a release tag)."""

    sha: str
    label: str
    version: str
    commit_entry: str | None = None


# ---------------------------------------------------------------------------- running things


def run(cmd, cwd=None, env=None, stdin=None, binary=False):
    """Run a command and capture its output. Errors are the caller's to judge."""
    try:
        if binary:
            return subprocess.run(cmd, cwd=cwd, env=env, input=stdin, capture_output=True)
        return subprocess.run(cmd, cwd=cwd, env=env, input=stdin, capture_output=True,
                              text=True, encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        raise Stop(f"`{cmd[0]}` is not installed (or not on PATH)")


def git(*args, cwd, env=None, stdin=None):
    """Run git and return its standard output; stop with git's message when it fails."""
    proc = run(["git", *args], cwd=cwd, env=env, stdin=stdin)
    if proc.returncode != 0:
        raise Stop(f"git {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def network_env():
    """Fail instead of waiting for a password prompt that CI can never answer."""
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


def short(sha):
    return sha[:10]


def version_key(version):
    return tuple(int(part) for part in version.split("."))


# ---------------------------------------------------------------------------- the record


def read_record(root):
    """The [template] table of .template.toml: kit_version, project-name, and the optional
    repository and commit. A tiny parser instead of tomllib, which Python 3.10 lacks."""
    path = root / RECORD
    if not path.is_file():
        raise Stop(f"{path} is missing: it records the kit version and the answers that "
                   "rendered this service, and an update starts from it")
    entries, table = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("["):
            table = line.strip("[]").strip()
            continue
        match = ENTRY.match(line)
        if table == "template" and match:
            entries[match[1]] = json.loads(f'"{match[2]}"')
    for key in ("kit_version", "project-name"):
        if not entries.get(key):
            raise Stop(f"{path} has no {key} under [template]")
    if not re.fullmatch(r"\d+\.\d+\.\d+", entries["kit_version"]):
        raise Stop(f"{path}: kit_version {entries['kit_version']!r} is not X.Y.Z")
    return entries


def set_commit_entry(record, sha):
    """Write (or drop) `commit = "<sha>"` after kit_version in a render's record, so that the
    record says exactly which kit revision the service now matches. Releases carry no entry:
    their tag names them."""
    lines = [line for line in record.read_text(encoding="utf-8").splitlines(keepends=True)
             if not line.startswith("commit = ")]
    if sha:
        at = next(i for i, line in enumerate(lines) if line.startswith("kit_version = "))
        lines.insert(at + 1, f'commit = "{sha}"\n')
    record.write_text("".join(lines), encoding="utf-8")


def describe(version, commit):
    return f"{version} (commit {short(commit)})" if commit else version


def kit_location(option, record):
    """--kit, else KIT_REPOSITORY, else `repository` in the record, else the kit checkout
    this script is in. Local paths are made absolute because git runs from temporary
    directories."""
    for value, base in ((option, Path.cwd()), (os.environ.get("KIT_REPOSITORY"), Path.cwd()),
                        (record.get("repository"), ROOT)):
        if value:
            path = (base / Path(value).expanduser())
            return str(path.resolve()) if path.exists() else value
    if (KIT / ".git").exists():
        return str(KIT)
    raise Stop("where is the kit? Pass --kit URL_OR_PATH, set KIT_REPOSITORY, or set "
               f'repository = "<git URL>" under [template] in {RECORD}')


# ---------------------------------------------------------------------------- the kit


def remote_releases(kit):
    """Release tags of the kit without cloning it: {"X.Y.Z": commit}."""
    proc = run(["git", "ls-remote", "--tags", kit], env=network_env())
    if proc.returncode != 0:
        raise Stop(f"cannot reach the kit at {kit}:\n{proc.stderr.strip()}")
    releases = {}
    for line in proc.stdout.splitlines():
        sha, ref = line.split("\t")
        name = ref.removeprefix("refs/tags/")
        # An annotated tag is listed twice; the `^{}` line names the commit itself.
        peeled = name.endswith("^{}")
        name = name.removesuffix("^{}")
        if RELEASE_TAG.match(name) and (peeled or name[1:] not in releases):
            releases[name[1:]] = sha
    return releases


def fetch_kit(kit, dest):
    """A bare clone: tags and history, no working tree to copy by accident."""
    proc = run(["git", "clone", "--quiet", "--bare", kit, str(dest)], env=network_env())
    if proc.returncode != 0:
        raise Stop(f"cannot fetch the kit from {kit}:\n{proc.stderr.strip()}")
    return dest


def local_releases(clone):
    """Release tags of the fetched kit: {"X.Y.Z": commit}."""
    out = git("for-each-ref", "--format=%(refname:short) %(objectname) %(*objectname)",
              "refs/tags/v*", cwd=clone)
    releases = {}
    for line in out.splitlines():
        name, sha, *peeled = line.split()
        if RELEASE_TAG.match(name):
            releases[name[1:]] = peeled[0] if peeled else sha
    return releases


def commit_of(clone, spec):
    proc = run(["git", "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"], cwd=clone)
    return proc.stdout.strip() if proc.returncode == 0 else None


def version_at(clone, sha):
    """The kit_version that the kit's template records at a revision."""
    proc = run(["git", "show", f"{sha}:template/{RECORD}"], cwd=clone)
    match = re.search(r'^kit_version = "(.*)"', proc.stdout, re.M)
    if proc.returncode != 0 or not match:
        raise Stop(f"kit revision {short(sha)} has no template/{RECORD} with a kit_version: "
                   "it is older than the kit's update support")
    return match[1]


def recorded_revision(clone, record):
    """The revision that rendered this service: the record's `commit` if it has one (an
    untagged revision), else the release tag of its kit_version."""
    version, commit = record["kit_version"], record.get("commit")
    if commit:
        sha = commit_of(clone, commit)
        if not sha:
            raise Stop(f"the kit has no commit {commit} (commit in {RECORD})")
        return Revision(sha, describe(version, sha), version, commit_entry=commit)
    releases = local_releases(clone)
    if version not in releases:
        raise Stop(f"the kit has no tag v{version}, the kit_version in {RECORD}. If this "
                   "service was rendered from an unreleased revision, add "
                   'commit = "<that commit>" under [template] and run again.')
    return Revision(releases[version], version, version)


def wanted_revision(clone, spec):
    """The revision to update to: the newest release by default, a release by its version,
    or any commit-ish of the kit (recorded with a `commit` entry unless it is a release)."""
    releases = local_releases(clone)
    if spec is None:
        if not releases:
            raise Stop("the kit has no release tags (vX.Y.Z) yet: name a revision to update to")
        newest = max(releases, key=version_key)
        return Revision(releases[newest], newest, newest)
    match = VERSION_ARGUMENT.match(spec)
    if match:
        version = match[1]
        if version not in releases:
            known = ", ".join(sorted(releases, key=version_key)) or "none"
            raise Stop(f"the kit has no release {version} (releases: {known})")
        return Revision(releases[version], version, version)
    sha = commit_of(clone, spec)
    if not sha:
        raise Stop(f"{spec!r} is neither a release (X.Y.Z) nor a branch, tag or commit of the kit")
    # A branch that points at a release is that release: record it by its version.
    for version, release_sha in releases.items():
        if release_sha == sha:
            return Revision(sha, version, version)
    version = version_at(clone, sha)
    return Revision(sha, f"{version} (commit {short(sha)}, {spec})", version, commit_entry=sha)


def changelog_between(clone, sha, old, new):
    """The kit's CHANGELOG entries after version `old` up to `new`: what the update brings."""
    proc = run(["git", "show", f"{sha}:CHANGELOG.md"], cwd=clone)
    if proc.returncode != 0:
        return ""
    picked, keep = [], False
    for line in proc.stdout.splitlines():
        heading = re.match(r"^## (\d+\.\d+\.\d+)", line)
        if heading:
            keep = version_key(old) < version_key(heading[1]) <= version_key(new)
        elif line.startswith("## "):
            keep = False
        if keep:
            picked.append(line)
    return "\n".join(picked).strip()


# ---------------------------------------------------------------------------- rendering


def ensure_cargo_generate():
    proc = run(["cargo", "generate", "--version"])
    if proc.returncode == 0 and CARGO_GENERATE_VERSION in proc.stdout:
        return
    print(f"installing cargo-generate {CARGO_GENERATE_VERSION} (a few minutes, once): both "
          "renders must come from the version the kit renders its examples with", flush=True)
    if subprocess.run(["cargo", "install", "cargo-generate", "--locked", "--version",
                       CARGO_GENERATE_VERSION]).returncode != 0:
        raise Stop(f"installing cargo-generate {CARGO_GENERATE_VERSION} failed")


def render(clone, revision, project, work, name, prefix):
    """Render one kit revision with the recorded answers into <work>/<name>-stage/<prefix>
    (the service's place in its repository) and return the stage directory."""
    source = work / f"{name}-kit"
    source.mkdir()
    present = git("ls-tree", "--name-only", revision.sha, cwd=clone).split()
    parts = [part for part in KIT_PARTS if part in present]
    # git archive takes committed files only: no target/ or .git of the kit comes along.
    archive = run(["git", "archive", "--format=tar", revision.sha, *parts], cwd=clone,
                  binary=True)
    if archive.returncode != 0:
        raise Stop(f"git archive of kit {revision.label} failed:\n{archive.stderr.decode()}")
    untar = run(["tar", "-x", "-C", str(source)], stdin=archive.stdout, binary=True)
    if untar.returncode != 0:
        raise Stop(f"unpacking kit {revision.label} failed:\n{untar.stderr.decode()}")

    stage = work / f"{name}-stage"
    dest = stage / prefix
    dest.mkdir(parents=True)
    # --init renders into --destination itself (without it: <destination>/<name>). The author
    # is pinned so renders repeat exactly (this template does not use it today).
    env = {**os.environ, "CARGO_NAME": "kit-update", "CARGO_EMAIL": "kit-update@localhost"}
    proc = run(["cargo", "generate", "--path", str(source), "template", "--name", project,
                "--silent", "--vcs", "none", "--no-workspace", "--init",
                "--values-file", str(ROOT / RECORD), "--destination", str(dest)],
               cwd=work, env=env)
    if proc.returncode != 0:
        raise Stop(f"rendering kit {revision.label} failed:\n{proc.stdout}{proc.stderr}")
    set_commit_entry(dest / RECORD, revision.commit_entry)
    return stage


# ---------------------------------------------------------------------------- the user's repo


@dataclass
class Repo:
    top: Path
    gitdir: Path
    prefix: str  # the service's directory inside the repository, "" or ending in "/"


def open_repo(root):
    """The repository holding the service; refuses anything but a clean, committed tree, so
    the merge's result is only the kit's change and `git reset --merge` can undo it."""
    proc = run(["git", "rev-parse", "--show-toplevel", "--absolute-git-dir", "--show-prefix"],
               cwd=root)
    if proc.returncode != 0:
        raise Stop(f"{root} is not in a git repository: kit-update merges through git. "
                   "Run `git init`, commit the service, and try again.")
    top, gitdir, prefix = (proc.stdout.splitlines() + [""])[:3]
    repo = Repo(Path(top), Path(gitdir), prefix)
    if run(["git", "rev-parse", "--verify", "--quiet", "HEAD"], cwd=root).returncode != 0:
        raise Stop("the repository has no commit yet: commit the service first")
    for marker in ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge",
                   "rebase-apply"):
        if (repo.gitdir / marker).exists():
            raise Stop("a merge, cherry-pick, revert or rebase is in progress: finish or "
                       "abort it first")
    dirty = git("status", "--porcelain", "--untracked-files=all", cwd=root).splitlines()
    if dirty:
        listed = "\n".join(f"  {line}" for line in dirty[:15])
        more = f"\n  ... and {len(dirty) - 15} more" if len(dirty) > 15 else ""
        raise Stop("the working tree has uncommitted changes or untracked files; commit or "
                   f"stash them first, so that the update is the only change:\n{listed}{more}")
    return repo


def index_env(repo, index):
    """git with a throwaway index: the user's own index is never touched."""
    return {**os.environ, "GIT_INDEX_FILE": str(index), "GIT_DIR": str(repo.gitdir)}


def stage_index(repo, stage, index):
    """Fill a throwaway index with every file of a render; return its paths."""
    index.unlink(missing_ok=True)
    env = index_env(repo, index)
    # --force: the render is exactly what the kit gives (it holds no target/ or .env), so no
    # ignore rule of the user's may hide one of its files.
    git("--work-tree", str(stage), "add", "--all", "--force", ".", cwd=stage, env=env)
    return set(filter(None, git("ls-files", "-z", cwd=stage, env=env).split("\0")))


def drop_paths(repo, stage, index, paths):
    if paths:
        git("update-index", "--force-remove", "-z", "--stdin", cwd=stage,
            env=index_env(repo, index), stdin="".join(f"{p}\0" for p in sorted(paths)))


def write_tree(repo, stage, index):
    return git("write-tree", cwd=stage, env=index_env(repo, index)).strip()


def head_paths(repo):
    out = git("ls-tree", "-r", "-z", "--name-only", "--full-tree", "HEAD", cwd=repo.top)
    return set(filter(None, out.split("\0")))


def deleted_by_user(repo, old_tree):
    """Files of the old render that the user deleted, not renamed: git's rename detection
    between the old render and HEAD tells them apart. A renamed file stays in both renders so
    the merge carries the kit's changes into it."""
    pathspec = [repo.prefix] if repo.prefix else []
    out = git("diff-tree", "-r", "-z", "--name-status", "--find-renames", old_tree, "HEAD",
              "--", *pathspec, cwd=repo.top)
    fields, deleted, i = out.split("\0"), set(), 0
    while i < len(fields) - 1:
        status = fields[i]
        if status.startswith(("R", "C")):
            i += 3
            continue
        if status == "D":
            deleted.add(fields[i + 1])
        i += 2
    return deleted


def staged_paths(*options):
    """Paths in the index that differ from HEAD, relative to the service."""
    out = git("diff", "--cached", "--name-only", "--relative", "-z", *options, cwd=ROOT)
    return [path for path in out.split("\0") if path]


def commit_tree(repo, tree, message, parent=None):
    """A throwaway commit. Never signed: with the user's commit.gpgSign (which git before 2.2
    applied to commit-tree too) signing would ask for a passphrase, or fail, for an object
    that only carries the merge."""
    args = ["commit-tree", "--no-gpg-sign", tree, "-m", message] + (
        ["-p", parent] if parent else [])
    return git(*args, cwd=repo.top, env={**os.environ, **MACHINE}).strip()


# ---------------------------------------------------------------------------- commands


def cmd_check(args):
    record = read_record(ROOT)
    kit = kit_location(args.kit, record)
    releases = remote_releases(kit)
    if not releases:
        raise Stop(f"the kit at {kit} has no release tags (vX.Y.Z)")
    newest = max(releases, key=version_key)
    version, commit = record["kit_version"], record.get("commit")
    here = describe(version, commit)
    if version_key(version) > version_key(newest):
        print(f"up to date ({here}, newer than the newest release {newest})")
        return 0
    # An untagged revision of the newest version's number is current only if it is the tag.
    if version == newest and (not commit or releases[newest].startswith(commit)):
        print(f"up to date ({here})")
        return 0
    print(f"behind: {here} -> {newest}, run scripts/kit.sh update <service> in the kit")
    return 1


def cmd_update(args):
    record = read_record(ROOT)
    kit = kit_location(args.kit, record)
    repo = open_repo(ROOT)
    with tempfile.TemporaryDirectory(prefix="kit-update-") as tmp:
        work = Path(tmp)
        print(f"fetching the kit from {kit}", flush=True)
        clone = fetch_kit(kit, work / "kit.git")
        old = recorded_revision(clone, record)
        new = wanted_revision(clone, args.version)
        if old.sha == new.sha:
            print(f"already at {old.label}")
            return 0
        if not new.commit_entry and not old.commit_entry and \
                version_key(new.version) < version_key(old.version):
            print(f"note: {new.version} is older than {old.version}: this goes backwards")
        ensure_cargo_generate()
        project = record["project-name"]
        print(f"rendering {project} from kit {old.label} and {new.label}", flush=True)
        old_stage = render(clone, old, project, work, "old", repo.prefix)
        new_stage = render(clone, new, project, work, "new", repo.prefix)
        brings = changelog_between(clone, new.sha, old.version, new.version)
        return merge(repo, work, old, new, old_stage, new_stage, brings)


def merge(repo, work, old, new, old_stage, new_stage, brings):
    """Commit both renders (old as a root commit, new on top of it) and cherry-pick the new
    one: git merges base=old render, ours=HEAD, theirs=new render."""
    old_index, new_index = work / "old.index", work / "new.index"
    old_paths = stage_index(repo, old_stage, old_index)
    deleted = deleted_by_user(repo, write_tree(repo, old_stage, old_index))
    # Both renders lose the deleted files, so the kit's changes to them are no conflict and
    # they stay deleted.
    drop_paths(repo, old_stage, old_index, deleted)
    new_paths = stage_index(repo, new_stage, new_index)
    # A file the kit adds where the user has an ignored file (clean tree: it can only be
    # ignored) would be overwritten, as git treats ignored files as expendable: keep the
    # user's file and leave the kit's out.
    shielded = {path for path in new_paths - old_paths - head_paths(repo)
                if os.path.lexists(repo.top / path)}
    drop_paths(repo, new_stage, new_index, deleted | shielded)

    base = commit_tree(repo, write_tree(repo, old_stage, old_index),
                       f"kit {old.label}, as rendered (base of kit-update)")
    update = commit_tree(repo, write_tree(repo, new_stage, new_index),
                         f"Update to kit {new.label} (from {old.label})\n\n"
                         "Merged with scripts/kit_update.py; the kit's CHANGELOG.md says what "
                         "this version brings.", parent=base)
    pick = run(["git", "-c", "merge.conflictStyle=diff3", "cherry-pick", "--no-commit", update],
               cwd=repo.top)

    # Paths are shown relative to the service, where the user runs `just`. Deleted files are
    # named only when the kit changed them: those are the kit changes left out.
    for path in sorted(deleted):
        if (new_stage / path).exists() and \
                not filecmp.cmp(old_stage / path, new_stage / path, shallow=False):
            print(f"kept deleted: {path.removeprefix(repo.prefix)} (you deleted it; the kit's "
                  "change to it is not applied)")
    for path in sorted(shielded):
        print(f"kept yours: {path.removeprefix(repo.prefix)} (an ignored file of yours; the "
              "kit's new file is not added)")
    if pick.returncode != 0:
        conflicted = staged_paths("--diff-filter=U")
        if not conflicted:
            raise Stop(f"git cherry-pick failed:\n{pick.stdout}{pick.stderr}".strip())
        for line in (pick.stdout + pick.stderr).splitlines():
            if line.startswith("CONFLICT"):
                print(line)
        print(f"\nkit {new.label} merged with conflicts in {len(conflicted)} file(s):")
        for path in conflicted:
            print(path)
        print("\nEach conflict shows your lines (<<<<<<<), the kit's old lines (|||||||) and the "
              "kit's new lines (>>>>>>>).\n"
              "To finish: edit those files, `git add` them, run the tests, then `git commit`.\n"
              "To abort and go back to where you were: `git reset --merge`.")
        return 1

    if run(["git", "diff", "--cached", "--quiet"], cwd=repo.top).returncode == 0:
        print(f"kit {new.label} changes nothing here")
        return 0
    print(f"\nkit {old.label} -> {new.label}: changes staged, nothing committed")
    print(git("diff", "--cached", "--stat", "--relative", cwd=ROOT).rstrip())
    if brings:
        print(f"\nWhat it brings (the kit's CHANGELOG.md):\n{brings}")
    if "Cargo.toml" in staged_paths():
        print("\nCargo.toml changed: a build updates Cargo.lock; commit it too.")
    print("\nReview (git diff --cached), run the tests (just test), then commit:\n"
          f'  git commit -m "Update to kit {new.version}"\n'
          "To throw the update away: git reset --merge")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="kit_update.py", description=__doc__.split("\n\n")[0].splitlines()[0],
        epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{update,check}")
    update = commands.add_parser("update", help="merge a newer kit version into this service",
                                 epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    update.add_argument("version", nargs="?", metavar="VERSION",
                        help="X.Y.Z, vX.Y.Z or a commit-ish of the kit (default: newest release)")
    check = commands.add_parser("check", help="fail when a newer kit release exists",
                                epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    for command in (update, check):
        command.add_argument("--kit", metavar="URL_OR_PATH",
                             help="the kit's git repository (default: $KIT_REPOSITORY, then "
                                  f"repository in {RECORD}, then this checkout)")
        command.add_argument("--service", metavar="DIR", default=".",
                             help="the service to update (default: the current directory)")
    update.set_defaults(func=cmd_update)
    check.set_defaults(func=cmd_check)
    args = parser.parse_args(argv)
    global ROOT
    ROOT = Path(args.service).resolve()
    try:
        return args.func(args)
    except Stop as stop:
        print(f"kit-{args.command}: {stop}", file=sys.stderr)
        return stop.code


if __name__ == "__main__":
    sys.exit(main())
