#!/usr/bin/env bash
# Keeps docs/cli.md's `--help` blocks equal to what the `wiretag` binary prints.
#
#   scripts/cli-doc.sh --write [--bin PATH] [--doc PATH]   regenerate the blocks in place
#   scripts/cli-doc.sh --check [--bin PATH] [--doc PATH]   exit 1 on any difference (ctest)
#
# The command tree is walked from `wiretag --help` ("Subcommands:"), recursively. Every
# command (groups too, and `wiretag` itself) has a section headed `### wiretag <path>`; the
# fenced block after the section's `<!-- help -->` line is the command's exact `--help`.
# --write replaces those blocks and keeps the prose around them, appends a section for a
# command that has none (after the section of the command before it), and removes the
# sections of commands the binary no longer has. --check fails on a block that differs, a
# command without a section, or a section of no command.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
mode=""
bin="$here/build/userspace/cli/wiretag"
doc="$here/docs/cli.md"
while [ $# -gt 0 ]; do
  case "$1" in
    --write | --check) mode="${1#--}" ;;
    --bin) bin="$2"; shift ;;
    --doc) doc="$2"; shift ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cli-doc.sh: unknown argument $1 (--write|--check [--bin PATH] [--doc PATH])" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$mode" ] || { echo "cli-doc.sh: give --write or --check" >&2; exit 2; }
[ -x "$bin" ] || { echo "cli-doc.sh: no wiretag binary at $bin (build it, or --bin PATH)" >&2; exit 2; }
[ -f "$doc" ] || [ "$mode" = write ] || { echo "cli-doc.sh: no $doc" >&2; exit 1; }

exec python3 - "$mode" "$bin" "$doc" <<'PY'
import os, re, subprocess, sys

mode, binary, doc = sys.argv[1:4]
MARK = "<!-- help -->"

def help_of(path):
    # No WIRETAG_* variable may change what --help shows.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    r = subprocess.run([binary, *path, "--help"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"cli-doc.sh: `wiretag {' '.join(path)} --help` exited {r.returncode}: {r.stderr}")
    return r.stdout.rstrip("\n")

def subcommands(text):
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("Subcommands:"):
            inside = True
            continue
        if inside:
            if not line.startswith(" "):
                break
            m = re.match(r"^  (\S+)", line)
            if m:
                out.append(m.group(1))
    return out

tree = []  # (path, help) in --help order, depth first
def walk(path):
    text = help_of(path)
    tree.append((path, text))
    for name in subcommands(text):
        walk(path + [name])
walk([])

def title(path):
    return "### " + " ".join(["wiretag", *path])

lines = open(doc).read().splitlines() if os.path.exists(doc) else ["# The wiretag CLI", ""]

# Sections: a `### wiretag …` heading up to the next heading of level 1-3.
def sections(lines):
    out, start = {}, None
    for i, line in enumerate(lines + ["## end"]):
        if re.match(r"^#{1,3} ", line):
            if start is not None:
                out[lines[start].strip()] = (start, i)
            start = i if re.match(r"^### wiretag( |$)", line) else None
    return out

def help_block(lines, start, end):
    """(first, last) line indexes of the fenced block after the section's MARK, or None."""
    for i in range(start, end):
        if lines[i].strip() == MARK:
            j = i + 1
            if j < end and lines[j].startswith("```"):
                for k in range(j + 1, end):
                    if lines[k].startswith("```"):
                        return (j, k)
            return (i + 1, None)
    return None

def fence(text):
    return ["```text", *text.split("\n"), "```"]

want = {title(p): h for p, h in tree}
problems = []
secs = sections(lines)
for heading, (start, end) in secs.items():
    if heading not in want:
        problems.append(f"{heading}: no such command (`wiretag --help` does not list it)")
for path, text in tree:
    heading = title(path)
    if heading not in secs:
        problems.append(f"{heading}: no section")
        continue
    start, end = secs[heading]
    block = help_block(lines, start, end)
    if block is None or block[1] is None:
        problems.append(f"{heading}: no fenced block after {MARK}")
    elif lines[block[0] + 1:block[1]] != text.split("\n"):
        problems.append(f"{heading}: its help block differs from `{heading[4:]} --help`")

if mode == "check":
    if problems:
        print("docs/cli.md is out of date with the wiretag binary; run scripts/cli-doc.sh --write:",
              file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    print(f"cli-doc.sh: {len(tree)} commands, every --help block matches")
    sys.exit(0)

# --write: stale sections out, blocks replaced, missing sections added, from the bottom up
# so that indexes stay valid.
for heading, (start, end) in sorted(sections(lines).items(), key=lambda kv: -kv[1][0]):
    if heading not in want:
        del lines[start:end]
        print(f"removed the section of {heading[4:]}", file=sys.stderr)
for path, text in tree:
    heading = title(path)
    secs = sections(lines)
    if heading in secs:
        start, end = secs[heading]
        block = help_block(lines, start, end)
        if block is None:
            lines[start + 1:start + 1] = ["", MARK, *fence(text)]
        elif block[1] is None:
            lines[block[0]:block[0]] = fence(text)
        else:
            lines[block[0]:block[1] + 1] = fence(text)
        continue
    # A new section after the previous command's (or at the end).
    at = len(lines)
    i = tree.index((path, text))
    if i > 0 and title(tree[i - 1][0]) in secs:
        at = secs[title(tree[i - 1][0])][1]
    new = [heading, "", MARK, *fence(text), ""]
    if at > 0 and lines[at - 1].strip() != "":
        new.insert(0, "")
    lines[at:at] = new
    print(f"added a section for {heading[4:]}: describe it in {doc}", file=sys.stderr)
with open(doc, "w") as f:
    f.write("\n".join(lines).rstrip("\n") + "\n")
print(f"cli-doc.sh: {len(tree)} commands written to {doc}")
PY
