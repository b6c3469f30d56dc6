"""Epochs and optimiser steps of a recipe at each learning-curve size, worked by hand."""

import pytest
from cifar_compare.curve.schedule import sized_recipe

RECIPE = {"epochs": 10, "batch_size": 128, "fine_tune": None, "lr": 0.1}
STEPS = {"policy": "fixed_steps", "reference_per_class": 5000, "max_epochs": 1000}
EPOCHS = {**STEPS, "policy": "fixed_epochs"}


def test_fixed_steps_gives_a_smaller_subset_more_epochs_up_to_the_reference_steps():
    # 5,000 per class: 50,000 images // 128 = 390 steps an epoch, 3,900 in 10 epochs.
    # 500 per class: 5,000 // 128 = 39 steps an epoch -> 100 epochs, 3,900 steps.
    sized = sized_recipe(RECIPE, 500, STEPS)
    assert sized["epochs"] == 100
    assert sized["curve"] == {
        "train_per_class": 500,
        "policy": "fixed_steps",
        "epochs": 100,
        "reference_per_class": 5000,
        "reference_epochs": 10,
        "optimizer_steps": 3900,
        "reference_optimizer_steps": 3900,
    }
    assert sized["lr"] == 0.1 and sized["batch_size"] == 128


def test_fixed_steps_rounds_epochs_up_and_never_goes_below_the_recipes_epochs():
    # 250 per class: 2,500 // 128 = 19 steps an epoch; 3,900 / 19 = 205.3 -> 206 epochs.
    assert sized_recipe(RECIPE, 250, STEPS)["curve"]["optimizer_steps"] == 206 * 19
    # 5,000 per class is the reference itself; 6,000 would need fewer: the floor holds.
    assert sized_recipe(RECIPE, 5000, STEPS)["epochs"] == 10
    assert sized_recipe(RECIPE, 6000, STEPS)["epochs"] == 10


def test_max_epochs_caps_fixed_steps_and_the_record_shows_the_shortfall():
    # 50 per class: 500 // 128 = 3 steps an epoch; 1,300 epochs wanted, 200 allowed.
    sized = sized_recipe(RECIPE, 50, {**STEPS, "max_epochs": 200})
    assert sized["epochs"] == 200
    assert sized["curve"]["optimizer_steps"] == 600
    assert sized["curve"]["reference_optimizer_steps"] == 3900


def test_a_subset_smaller_than_a_batch_still_takes_one_step_an_epoch():
    # 10 per class: 100 images < 128: one step an epoch -> 3,900 epochs, capped at 1,000.
    assert sized_recipe(RECIPE, 10, STEPS)["curve"]["optimizer_steps"] == 1000


def test_fixed_epochs_keeps_the_recipes_epochs_and_records_fewer_steps():
    sized = sized_recipe(RECIPE, 500, EPOCHS)
    assert sized["epochs"] == 10
    assert sized["curve"]["optimizer_steps"] == 390
    assert sized["curve"]["reference_optimizer_steps"] == 3900


@pytest.mark.parametrize(
    ("per_class", "epochs", "fine_tune_epochs"),
    # 5,000: the recipe itself. 2,500: 25,000 // 128 = 195 steps an epoch, 3,900 / 195 =
    # 20 epochs, 8 of 10 -> 16 of 20. 50: capped at 200 epochs, 8 of 10 -> 160.
    [(5000, 10, 8), (2500, 20, 16), (50, 200, 160)],
)
def test_phase_two_keeps_its_share_of_the_epochs(per_class, epochs, fine_tune_epochs):
    recipe = {**RECIPE, "fine_tune": {"epochs": 8, "lr": 1e-4, "layers": 0}}
    sized = sized_recipe(recipe, per_class, {**STEPS, "max_epochs": 200})
    assert (sized["epochs"], sized["fine_tune"]["epochs"]) == (epochs, fine_tune_epochs)
    assert sized["fine_tune"]["lr"] == 1e-4


def test_phase_one_keeps_its_share_and_a_recipe_without_one_gets_none():
    # 9 of 10 epochs in phase 2; at 2,500 per class (20 epochs) 18 of 20.
    recipe = {**RECIPE, "fine_tune": {"epochs": 9, "lr": 1e-4, "layers": 0}}
    assert sized_recipe(recipe, 2500, STEPS)["fine_tune"]["epochs"] == 18
    # 1 epoch, all of it phase 2 (no phase 1): all of the 2 epochs it gets.
    whole = {**RECIPE, "epochs": 1, "fine_tune": {"epochs": 1, "lr": 1e-4, "layers": 0}}
    # 25,000 // 128 = 195 an epoch; reference 390 steps in 1 epoch -> 2 epochs.
    assert sized_recipe(whole, 2500, STEPS)["fine_tune"]["epochs"] == 2
