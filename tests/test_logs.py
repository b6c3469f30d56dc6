"""Job logs keep every attempt's lines (cifar_compare/runtime/logs.py).

Snakemake deletes a job's log before each attempt; these tests delete it the same way
between the calls that stand for attempts.
"""

import logging

import pytest
from cifar_compare.runtime.logs import append_line, attempts_path, errors_logged, open_log


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:], root.level = handlers, level


def attempt(log, line, fail):
    """One attempt of a job: Snakemake deletes its log, then the script logs `line`."""
    log.unlink(missing_ok=True)
    logger = open_log(log)

    def job():
        with errors_logged(logger):
            logger.info(line)
            append_line(log, f"a gpu slot note of {line}")
            if fail:
                raise RuntimeError(f"{line} failed")

    if fail:
        with pytest.raises(RuntimeError):
            job()
    else:
        job()
    return log.read_text()


def test_a_retry_keeps_every_earlier_attempts_lines(tmp_path):
    log = tmp_path / "seed0.log"
    first = attempt(log, "first try", fail=True)
    assert "first try failed" in first and "--- attempt" not in first
    second = attempt(log, "second try", fail=True)
    assert second.startswith(first)
    assert second.index("--- attempt 2,") < second.index("second try")
    third = attempt(log, "third try", fail=False)
    assert third.startswith(second) and "--- attempt 3," in third
    assert third.count("a gpu slot note of") == 3


def test_a_job_that_succeeded_starts_its_next_log_afresh(tmp_path):
    log = tmp_path / "seed0.log"
    attempt(log, "failed run", fail=True)
    attempt(log, "fixed run", fail=False)
    assert not attempts_path(log).exists()
    rerun = attempt(log, "rerun", fail=False)
    assert "rerun" in rerun and "failed run" not in rerun and "fixed run" not in rerun
    assert "--- attempt" not in rerun


def test_the_hidden_copy_sits_beside_the_log_and_gets_no_gpu_note_without_it(tmp_path):
    log = tmp_path / "seed0.log"
    assert attempts_path(log) == tmp_path / ".seed0.log.attempts"
    append_line(log, "a note before any logger")
    assert log.read_text() == "a note before any logger\n"
    assert not attempts_path(log).exists()
