"""Surviving interruption: SLURM (time limit, preemption) and users (Ctrl-C) stop jobs
with SIGTERM or SIGINT. Training checks `StopRequest.requested` after every step,
abandons the epoch in progress and exits non-zero; the last finished epoch's state is
on disk outside the rule's outputs (which Snakemake deletes), so the next attempt
resumes from it."""

import contextlib
import hashlib
import json
import re
import shutil
import signal
import sys
from pathlib import Path

from cifar_compare.fileio import file_digest, read_json, refuse_symlinked_folder, write_json_atomic
from cifar_compare.messages import clip


class Interrupted(RuntimeError):
    def __init__(self, signum, epoch):
        self.signum = signum
        super().__init__(
            f"stopped by {signal.Signals(signum).name} during epoch {epoch}; "
            f"the state after epoch {epoch - 1} is kept for the next attempt"
        )


class TrainingDiverged(RuntimeError):
    """The training loss stopped being finite (cifar_compare.epochs.epoch_row)."""


@contextlib.contextmanager
def early_ends(logger, model, seed):
    """A run stopped by a signal exits with code 128 + signal number; a diverged one's
    error names the model and seed."""
    try:
        yield
    except Interrupted as stopped:
        logger.warning("%s", stopped)
        sys.exit(128 + stopped.signum)
    except TrainingDiverged as error:
        raise TrainingDiverged(f"model {model}, seed {seed}: {error}") from None


class StopRequest:
    """Records SIGTERM/SIGINT instead of dying at once, so the step in progress ends."""

    signum = None  # the signal received, once one is

    def install(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._record)
        return self

    def _record(self, signum, _frame):
        self.signum = signum

    @property
    def requested(self):
        return self.signum is not None


def fingerprint(model_config, seed, prepared_path, weights_path=None):
    """Identifies the run a saved state belongs to by everything that decides its trained
    weights: the recipe, the seed, and the contents (sha256) of the prepared data file
    and of the pretrained weights file. A state saved under any other is discarded."""
    identity = {
        "config": model_config,
        "seed": seed,
        "prepared_sha256": file_digest(prepared_path, "sha256"),
        "weights_sha256": file_digest(weights_path, "sha256") if weights_path else None,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


class BadResumeState(ValueError):
    """A state.json that is not a record this code wrote."""


# An epoch's state files, as epoch_file() names them: a plain name inside the folder.
STATE_FILE = re.compile(r"epoch[0-9]+\.[a-z0-9.]+")


class ResumeDir:
    """A folder holding one run's latest epoch state, written atomically and fsynced.
    Nothing is written or deleted through a symlinked folder (cifar_compare.fileio)."""

    def __init__(self, path, run_fingerprint):
        self.path = Path(path)
        self.fingerprint = run_fingerprint
        self.marker = self.path / "state.json"

    def load_record(self):
        """The saved record ({epoch, history, ...}) of this run, or None."""
        refuse_symlinked_folder(self.path)
        record = read_json(self.marker) if self.marker.is_file() else None
        if record is not None and record.get("fingerprint") != self.fingerprint:
            self.clear()  # saved by a run with other settings
            return None
        if record is not None:
            self._check(record)
        return record

    def _check(self, record):
        epoch, history = record.get("epoch"), record.get("history")
        if type(epoch) is not int or epoch < 0 or not isinstance(history, list):
            raise BadResumeState(f"{self.marker}: not a resume record (epoch, history)")

    def state_file(self, name):
        """The state file `name` that a record names: a file of this folder only."""
        if not (isinstance(name, str) and STATE_FILE.fullmatch(name)):
            raise BadResumeState(
                f"{self.marker}: names {clip(repr(name), 60)} as a state file; only "
                "epoch<N>.<suffix> files of its own folder are read"
            )
        return self.path / name

    def epoch_file(self, epoch, suffix):
        """Where one epoch's state goes; epochs never share a file, so a kill while
        writing epoch k leaves epoch k-1's state and record intact."""
        refuse_symlinked_folder(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path / f"epoch{epoch}{suffix}"

    def save_record(self, record):
        """Point the record at the new epoch's files, then drop older epochs' files."""
        write_json_atomic(self.marker, {**record, "fingerprint": self.fingerprint})
        keep = f"epoch{record['epoch']}"
        for old in self.path.glob("epoch*"):
            if not old.name.startswith(keep + "."):
                old.unlink()

    def clear(self):
        """Remove the state, and parent folders left empty (results/resume/<model>)."""
        refuse_symlinked_folder(self.path)
        shutil.rmtree(self.path, ignore_errors=True)
        for parent in self.path.parents:
            try:
                parent.rmdir()
            except OSError:
                break
