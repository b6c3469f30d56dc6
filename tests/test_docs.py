"""The documentation holds: every Markdown link resolves, user pages name none of this
repository's own machines, and every command in the README is run (here, dry where long)."""

import os
import re
import shlex
import shutil
import subprocess

import pytest
from conftest import REPO
from workflow_copy import copy_workflow

USER_PAGES = [
    "README.md",
    "CHANGELOG.md",
    "config/README.md",
    *(f"docs/{name}" for name in sorted(os.listdir(REPO / "docs")) if name.endswith(".md")),
]
CONTRIBUTOR_PAGES = ["docs/development.md"]  # may say where the real-data tests' files live
LINKED_PAGES = sorted({*USER_PAGES, *(str(p.relative_to(REPO)) for p in REPO.glob("docs/*/*.md"))})
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
# This repository's development machines and tracker, which mean nothing to a user.
INTERNAL = re.compile(
    r"\.\./shared|development (machine|VM|CPU|box)|GPU box|\bissue \d+", re.IGNORECASE
)
# The checkout's environment, which runs the README's commands below.
VENV = REPO / ".venv"


def prose_lines(text):
    """The lines outside fenced code blocks."""
    inside = False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
        elif not inside:
            yield line


def code_blocks(text, language):
    """The contents of the fenced code blocks in `language`."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path):
    seen, found = {}, set()
    for line in prose_lines(path.read_text()):
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page):
    path = REPO / page
    broken = []
    for line in prose_lines(path.read_text()):
        for target in LINK.findall(line):
            if re.match(r"[a-z]+:", target):  # https:, mailto: ... not checked offline
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{page}: {target} (no such file)")
            elif anchor and anchor not in anchors(linked):
                broken.append(f"{page}: {target} (no such heading)")
    return broken


@pytest.mark.parametrize("page", LINKED_PAGES)
def test_every_link_resolves(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("page", sorted(set(USER_PAGES) - set(CONTRIBUTOR_PAGES)))
def test_user_pages_name_no_development_machine(page):
    lines = [line for line in (REPO / page).read_text().splitlines() if INTERNAL.search(line)]
    assert lines == []


def readme_commands():
    """Each command line of the README's bash blocks, comments and blank lines left out."""
    commands = []
    for block in code_blocks((REPO / "README.md").read_text(), "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split(" #")[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_readme_has_commands_and_ci_runs_its_test_and_lint_commands():
    commands = readme_commands()
    assert "make run" in commands and "make setup" in commands
    ci = (REPO / ".ci" / "run").read_text()
    for command in ("make test", "make lint"):
        assert command in commands and command in ci


def test_every_readme_command_runs_dry(tmp_path):
    """make lines as `make -n` (nothing is executed), Snakemake lines with `-n` in a copy
    of the workflow, other lines (copying a profile) for real in that copy."""
    workdir = copy_workflow(tmp_path / "wf")
    shutil.copy2(REPO / "Makefile", workdir / "Makefile")
    failures = []
    for command in readme_commands():
        words = shlex.split(command)
        if words[0] == "make":
            argv = ["make", "-n", f"VENV={VENV}", "PYTHON=false", *words[1:]]
            cwd = REPO
        elif words[0] == ".venv/bin/snakemake":
            argv = [str(VENV / "bin" / "snakemake"), *words[1:]]
            argv += [] if "-n" in words else ["-n"]
            cwd = workdir
        elif words[0] == "cp":
            argv, cwd = words, workdir
        else:
            failures.append(f"{command}: no test runs this kind of command")
            continue
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        if done.returncode != 0:
            failures.append(f"{command}: {(done.stdout + done.stderr)[-1500:]}")
    assert failures == []
