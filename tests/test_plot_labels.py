"""Names drawn in the plots are text, never matplotlib math: a metrics record (a baseline
run's, one edited by hand) whose class name holds `$...$` markup still plots."""

import json
from pathlib import Path

from report_fixtures import draw_plots, write_run

MARKUP = r"$\frac{$"  # mathtext refuses it: drawing it as math fails the whole figure


def test_math_markup_in_a_class_name_is_drawn_as_written(tmp_path):
    metrics, histories, _ = write_run(tmp_path)
    for path in map(Path, metrics):
        record = json.loads(path.read_text())
        first = record["class_names"][0]
        record["class_names"][0] = MARKUP
        record["per_class_accuracy"][MARKUP] = record["per_class_accuracy"].pop(first)
        path.write_text(json.dumps(record))
    written = draw_plots(tmp_path, metrics, histories)
    assert all(Path(p).stat().st_size > 0 for p in written)
