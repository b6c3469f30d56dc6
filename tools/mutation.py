"""Mutation testing of the modules that compute the study's numbers or guard its inputs
(`make mutation`; docs/development.md, Mutation testing).

mutmut (requirements-mutation.txt) mutates one module at a time and runs, against each
mutant, the tests among the module's fast test files (MODULES) that call the mutated
function. Then this prints each surviving mutant as a diff, those excused as equivalent
(tools/mutation_equivalent.toml) apart, and a table of killed/total per module; it exits 1
when a module kills less than --fail-under % of its non-equivalent mutants.

mutmut names a mutant after its file's path in the folder it runs in (less a leading
`src/`), while the tests import the package as `cifar_compare` from workflow/scripts; and
the package finds its schemas and config/ from its own file's place in the checkout. So each
module runs in a folder of its own, .mutation/<module>/: `src/cifar_compare/<module>.py`
is a copy of the module for mutmut to read, and `mutants/`, where mutmut writes the mutated
module and runs the tests, is a copy of the checkout whose `src` links to its own
workflow/scripts, so the mutated file is that copy's. `mutmut results`, `mutmut show NAME`
and `mutmut browse` work in that folder afterwards (`mutmut apply` would only change the
folder's copy).
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "workflow/scripts/cifar_compare"
STAGE = REPO / ".mutation"
EQUIVALENT = Path(__file__).with_name("mutation_equivalent.toml")
MUTMUT = Path(sys.executable).parent / "mutmut"

# module (path under cifar_compare/) -> the fast test files that call it
MODULES = {
    "metrics.py": [
        "tests/test_metrics_by_hand.py",
        "tests/test_recipe_options.py",  # test_time_predictions
        "tests/test_report_functions.py",
        "tests/test_report_verdicts.py",
        "tests/test_report_stats.py",  # read_metrics_file, validate_metrics
        "tests/test_compare_models.py",
        "tests/test_plot_labels.py",
    ],
    "report/stats.py": [
        "tests/test_report_functions.py",
        "tests/test_report_verdicts.py",
        "tests/test_report_stats.py",
        "tests/test_plot_labels.py",
    ],
    "data/archive.py": [
        "tests/test_archive.py",
        "tests/test_archive_bounds.py",
        "tests/test_archive_official_size.py",
        "tests/test_hostile_archive.py",
        "tests/test_download.py",
        "tests/test_hostile_download.py",
    ],
    "data/numpy_pickle.py": [
        "tests/test_numpy_pickle.py",
        "tests/test_archive.py",
        "tests/test_archive_bounds.py",
        "tests/test_archive_official_size.py",
        "tests/test_hostile_archive.py",
    ],
    "config.py": [
        "tests/test_config_check.py",
        "tests/test_study_config.py",
        "tests/test_weights_lock.py",
        "tests/test_precision.py",
        # not test_bad_inputs, test_hardware or test_bench: their config checks run in
        # Snakemake's process, where mutmut's trampoline finds no settings and fails
    ],
}
# One process (the project's addopts start three xdist workers), fast tests only.
PYTEST_ARGS = ["-o", "addopts=", "-m", "not slow", "-p", "no:cacheprovider"]
KILLED = {"killed", "timeout", "segfault"}  # a timeout or a crash is the tests noticing


def checkout_files():
    """The checkout's files as git sees them (tracked, and new ones not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in listed.decode().split("\0") if name and (REPO / name).is_file()]


def stage(module):
    """The module's folder under .mutation/ and its copy's path there."""
    return STAGE / module.removesuffix(".py").replace("/", "-"), Path("src/cifar_compare") / module


def prepare(module):
    """.mutation/<module>/ afresh: the module's copy for mutmut to read, mutmut's settings,
    and mutants/, a copy of the checkout with src -> workflow/scripts."""
    folder, source = stage(module)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / source).parent.mkdir(parents=True)
    shutil.copy2(REPO / PACKAGE / module, folder / source)  # same mtime: not yet mutated
    mutants = folder / "mutants"
    for name in checkout_files():
        (mutants / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, mutants / name)
    (mutants / "src").symlink_to("workflow/scripts", target_is_directory=True)
    settings = {
        "source_paths": [str(source)],
        "pytest_add_cli_args_test_selection": MODULES[module],
        "pytest_add_cli_args": PYTEST_ARGS,
        "use_git_change_detection": False,
    }
    toml = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    pyproject = (REPO / "pyproject.toml").read_text()
    (folder / "pyproject.toml").write_text(f"{pyproject}\n[tool.mutmut]\n{toml}\n")
    return folder, source


def run_mutmut(folder, max_children):
    command = [MUTMUT, "run"] + (["--max-children", str(max_children)] if max_children else [])
    log = folder / "mutmut.log"
    with log.open("w") as out:
        done = subprocess.run(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        print(log.read_text()[-3000:])
        sys.exit(f"{folder.name}: mutmut run failed (exit {done.returncode}); see {log}")


def statuses(folder, source):
    """{mutant name: status} from mutmut's record of the module."""
    from mutmut.stats import status_by_exit_code

    meta = json.loads((folder / "mutants" / f"{source}.meta").read_text())
    return {name: status_by_exit_code[code] for name, code in meta["exit_code_by_key"].items()}


def changed_lines(folder, name):
    """The removed and added lines of a mutant, as `mutmut show` gives them."""
    shown = subprocess.run(
        [MUTMUT, "show", name], cwd=folder, capture_output=True, text=True, check=True
    ).stdout
    return [
        line.rstrip()
        for line in shown.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def excused(name, lines, equivalent):
    """The reason `name` is equivalent, if the list has it and its mutated line is still
    the one the list names (after an edit, the same name may be another mutant)."""
    entry = equivalent.get(name)
    added = [line[1:].strip() for line in lines if line.startswith("+")]
    return entry["reason"] if entry and entry["line"] in added else None


def percent(part, whole):
    return f"{100 * part / whole:.1f} %" if whole else "-"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--max-children", type=int, help="mutmut's worker processes")
    parser.add_argument("--fail-under", type=float, default=90.0, metavar="PERCENT")
    parser.add_argument(
        "--scores-only",
        action="store_true",
        help="score the last run's results again (after editing the equivalents) instead",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown modules {unknown}; known: {', '.join(MODULES)}")
    equivalent = tomllib.loads(EQUIVALENT.read_text())
    table, start = [], time.monotonic()
    for module in args.modules or MODULES:
        began = time.monotonic()
        if args.scores_only:
            folder, source = stage(module)
        else:
            folder, source = prepare(module)
            print(f"{module}: mutmut over {len(MODULES[module])} test files ({folder}/mutmut.log)")
            sys.stdout.flush()
            run_mutmut(folder, args.max_children)
        found = statuses(folder, source)
        killed = sum(status in KILLED for status in found.values())
        equivalents = 0
        for name, status in found.items():
            if status in KILLED:
                continue
            lines = changed_lines(folder, name)
            reason = excused(name, lines, equivalent)
            equivalents += reason is not None
            print(f"  {name}: {status}" + (f", equivalent: {reason}" if reason else ""))
            for line in [] if reason else lines:
                print(f"      {line}")
        table.append((module, killed, len(found), equivalents, time.monotonic() - began))
    print(f"\n{'module':22} {'killed':>6} {'total':>6} {'score':>7} {'equiv.':>6} {'score*':>7}")
    failing = []
    for module, killed, total, equivalents, seconds in table:
        score = percent(killed, total - equivalents)
        print(
            f"{module:22} {killed:>6} {total:>6} {percent(killed, total):>7} "
            f"{equivalents:>6} {score:>7}   {seconds / 60:.1f} min"
        )
        if total - equivalents and 100 * killed / (total - equivalents) < args.fail_under:
            failing.append(module)
    minutes = (time.monotonic() - start) / 60
    print(f"score*: killed of the non-equivalent mutants; {minutes:.1f} min in all")
    if failing:
        sys.exit(f"below {args.fail_under:g} % of non-equivalent mutants killed: {failing}")


if __name__ == "__main__":
    main()
