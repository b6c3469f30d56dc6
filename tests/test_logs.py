"""Job logs keep every attempt's lines (cifar_compare/runtime/logs.py).

Snakemake deletes a job's log before each attempt; these tests delete it the same way
between the calls that stand for attempts.
"""

import logging

import pytest
from cifar_compare.runtime.gpu_slots import gpu_slot
from cifar_compare.runtime.logs import attempts_path, errors_logged, open_log


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
            with gpu_slot(logger, {"CIFAR_COMPARE_GPUS": "0"}):  # logs why it assigns none
                pass
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
    assert third.count("gpu slot: not assigning a GPU") == 3


def test_a_job_that_succeeded_starts_its_next_log_afresh(tmp_path):
    log = tmp_path / "seed0.log"
    attempt(log, "failed run", fail=True)
    attempt(log, "fixed run", fail=False)
    assert not attempts_path(log).exists()
    rerun = attempt(log, "rerun", fail=False)
    assert "rerun" in rerun and "failed run" not in rerun and "fixed run" not in rerun
    assert "--- attempt" not in rerun


def test_the_hidden_copy_sits_beside_the_log(tmp_path):
    assert attempts_path(tmp_path / "seed0.log") == tmp_path / ".seed0.log.attempts"
