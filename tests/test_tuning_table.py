"""tools/tuning_table.py: the tuning log's rows from hand-written histories."""

import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "tuning_table.py"
HEADER = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,epoch_seconds\n"


def tuning_table():
    spec = importlib.util.spec_from_file_location("tuning_table", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_history(results, model, lines):
    path = results / "models" / model / "seed0" / "history.csv"
    path.parent.mkdir(parents=True)
    path.write_text(HEADER + "".join(lines))


def test_a_row_is_the_last_epoch_with_its_interval_and_the_summed_time(tmp_path):
    """The last epoch, not the best: 0.8 over 2,500 images is ± 1.96 x sqrt(0.16 / 2500)
    = ± 1.57 points; the time is both epochs'."""
    write_history(tmp_path, "m", ["1,1.0,0.5,1.0,0.90,100.5\n", "2,0.5,0.85,0.6,0.80,200.25\n"])
    row = tuning_table().row(tmp_path, "m", validation_images=2500)
    assert row == "| `m` | 2 | **80.00 %** (± 1.57) | 85.0 % | 301 s |"


def test_a_history_without_validation_is_refused_by_name(tmp_path):
    write_history(tmp_path, "m", ["1,1.0,0.5,,,100\n"])
    with pytest.raises(SystemExit, match=r"m/seed0/history.csv: no validation accuracy"):
        tuning_table().row(tmp_path, "m", validation_images=2500)
