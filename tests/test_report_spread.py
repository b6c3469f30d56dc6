"""A model trained once: the report quotes the run-to-run spread this project measured for
its recipe (workflow/report/measured_spread.yaml), and only for that recipe."""

import pytest
import yaml
from cifar_compare.config import load_study_config
from cifar_compare.report.conclusions import single_run_sentence
from cifar_compare.report.data import model_results
from cifar_compare.report.spread import check_measurements, quoted_spreads, recipe
from report_fixtures import OFFICIAL_CIFAR10_MD5, REPO, REPORT, correct_mask, metrics_record

MODEL = "alexnet_scratch_pytorch"


def results_of(seed_list, **config):
    records = [
        metrics_record(MODEL, s, correct_mask([(0, 800)]), OFFICIAL_CIFAR10_MD5) for s in seed_list
    ]
    for record in records:
        record["model_config"].update(config)
    return model_results(records, {MODEL: list(seed_list)})


def measurement(**config):
    (record,) = [metrics_record(MODEL, 0, correct_mask([(0, 800)]), OFFICIAL_CIFAR10_MD5)]
    record["model_config"].update(config)
    return {
        "model": "alexnet_bf16_scratch_pytorch",
        "recipe": recipe(record["model_config"]),
        "sd_points": 0.4567,
        "runs": 5,
        "scale": "5,000 training images",
        "source": "docs/results/seeds",
    }


def test_a_one_seed_model_gets_its_recipes_measured_spread():
    assert len(single_run_sentence(results_of([0]), [])) == 1  # nothing measured, no quote
    sentences = single_run_sentence(results_of([0], seeds=[0], precision="fp32"), [measurement()])
    assert "run-to-run variation is not covered" in sentences[0]
    assert (
        f"{MODEL} 0.46 points over 5 seeds (5,000 training images, docs/results/seeds)"
        in (sentences[1])
    )


def test_another_recipe_or_several_seeds_get_no_quote():
    measured = [measurement()]
    assert quoted_spreads(results_of([0], batch_size=64), measured) == []  # recipe changed
    assert quoted_spreads(results_of([0, 1]), measured) == []  # its own spread is measured
    assert quoted_spreads(results_of([0]), [measurement(epochs=15)]) == []


def test_an_option_at_its_null_default_is_the_measured_recipe_and_set_it_is_not():
    """A key the measured runs' records lack (added later), at null, is the same recipe;
    the same key set to a value is another."""
    measured = [measurement()]
    assert len(quoted_spreads(results_of([0], ema_decay=None), measured)) == 1
    assert quoted_spreads(results_of([0], ema_decay=0.99), measured) == []


def test_a_measurement_file_lacking_a_field_is_refused_naming_it(tmp_path):
    entry = measurement()
    del entry["sd_points"]
    with pytest.raises(ValueError, match=r"spread\.yaml: entry 0 lacks sd_points"):
        check_measurements([entry], tmp_path / "spread.yaml")
    with pytest.raises(ValueError, match="expected a list"):
        check_measurements({"a": 1}, tmp_path / "spread.yaml")


def test_the_shipped_measurements_are_well_formed():
    path = REPORT / "measured_spread.yaml"
    for entry in check_measurements(yaml.safe_load(path.read_text()), path):
        assert entry["runs"] >= 2 and entry["sd_points"] > 0
        assert set(entry["recipe"]).isdisjoint({"seeds", "precision", "enabled"})


@pytest.mark.parametrize(
    ("overlays", "model"),
    [
        (
            ["docs/results/precision/precision.yaml", "docs/results/seeds/seeds.yaml"],
            "alexnet_bn_bf16_scratch_pytorch",
        ),
        (["docs/results/precision/precision.yaml"], "alexnet_scratch_pytorch"),
        (["docs/results/precision/precision.yaml"], "alexnet_scratch_keras"),
    ],
)
def test_the_measured_recipes_are_still_configured(overlays, model):
    """Each measured recipe is still one a shipped config trains (the 10-epoch recipes
    the spread was measured for, before the 15-epoch ones: the BN variant's in the seed
    study's overlay, the scratch AlexNets' in the precision study's), so the report
    quotes a spread where one was measured."""
    path = REPORT / "measured_spread.yaml"
    shipped = load_study_config([REPO / o for o in overlays])["models"][model]
    measured = [recipe(m["recipe"]) for m in yaml.safe_load(path.read_text())]
    assert recipe(shipped) in measured, f"{model}'s recipe differs from every one in {path}"
