"""workflow/scripts/compare_models.py: named pairs of a finished run's models, with
per-seed values, means and spreads checked against hand-computed figures."""

import json
import subprocess
import sys
from pathlib import Path

from report_fixtures import correct_mask, metrics_record

SCRIPT = Path(__file__).resolve().parents[1] / "workflow" / "scripts" / "compare_models.py"
MD5 = "0" * 32


def write_run(folder, correct_counts):
    """Metrics of each model, one seed per count of right test images (of 1,000)."""
    for model, counts in correct_counts.items():
        for seed, count in enumerate(counts):
            record = metrics_record(model, seed, correct_mask([(0, count)]), MD5, precision="fp32")
            path = folder / "metrics" / model / f"seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record))


def compare(folder, *pairs):
    command = [sys.executable, str(SCRIPT), str(folder), *pairs]
    return subprocess.run(command, capture_output=True, text=True)


def test_pairs_print_per_seed_values_spreads_and_a_verdict_over_runs(tmp_path):
    write_run(
        tmp_path,
        {
            "alexnet_scratch_pytorch": [700, 720, 740],  # mean 72 %, sd 2 points
            "alexnet_scratch_keras": [600, 610, 620],  # mean 61 %, sd 1 point
            "mobilenetv2_pretrained_keras": [600, 750, 690],  # mean 68 %, sd 7.55 points
        },
    )
    done = compare(
        tmp_path,
        "alexnet_scratch_pytorch:alexnet_scratch_keras",
        "alexnet_scratch_pytorch:mobilenetv2_pretrained_keras",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(
        "alexnet_scratch_pytorch (3 seeds): 70.00, 72.00, 74.00; mean 72.00 ± 2.00 (sd)"
    )
    assert lines[1].startswith("alexnet_scratch_keras (3 seeds): 60.00, 61.00, 62.00; mean 61.00")
    assert "mean 68.00 ± 7.55 (sd)" in lines[2]
    first, second = lines[3], lines[4]
    assert first.startswith("alexnet_scratch_pytorch - alexnet_scratch_keras: +11.00 points")
    assert "t over training runs" in first and "(distinguishable at 5 %)" in first
    # 4 points, a spread of 7.55 over 3 runs: no verdict (Welch alone: t 0.89, df 2.3, p 0.46)
    assert second.startswith("alexnet_scratch_pytorch - mobilenetv2_pretrained_keras: +4.00")
    assert "(not distinguishable at 5 %)" in second


def test_an_unknown_model_is_named_with_those_found(tmp_path):
    write_run(tmp_path, {"alexnet_scratch_pytorch": [700]})
    done = compare(tmp_path, "alexnet_scratch_pytorch:alexnet_bf16")
    assert done.returncode != 0
    assert "no metrics for alexnet_bf16; found alexnet_scratch_pytorch" in done.stderr


def test_a_metrics_file_the_schema_refuses_is_named(tmp_path):
    write_run(tmp_path, {"alexnet_scratch_pytorch": [700], "alexnet_scratch_keras": [690]})
    broken = tmp_path / "metrics/alexnet_scratch_keras/seed0.json"
    broken.write_text('{"model": "alexnet_scratch_keras"}')
    done = compare(tmp_path, "alexnet_scratch_pytorch:alexnet_scratch_keras")
    assert done.returncode != 0
    assert f"metrics file {broken}" in done.stderr
