"""`precision: auto`: the cases that need no probe, the probe's threshold and timing, and
both frameworks' probes deciding from their own model's steps (the clock mocked, the
steps real)."""

import pytest
from cifar_compare.config import load_study_config
from cifar_compare.runtime import precision as precisions
from cifar_compare.runtime.precision import MIN_BF16_SPEEDUP, decide_by_probe, resolve

CONFIG = load_study_config(["config/test.yaml"])


def no_probe():
    raise AssertionError("the probe ran where a known case settles the precision")


@pytest.mark.parametrize(
    ("choice", "on_gpu", "gpu_bf16", "flags", "expected"),
    [
        ("auto", True, True, set(), "bf16"),
        ("auto", True, False, {"amx_bf16"}, "fp32"),  # the GPU decides, not the CPU
        ("auto", False, False, {"amx_tile", "amx_bf16", "avx512_bf16"}, "bf16"),
        ("auto", False, False, {"avx2", "avx512f"}, "fp32"),  # no bf16 instructions
        ("auto", False, False, set(), "fp32"),  # no /proc/cpuinfo
        (None, False, False, {"amx_bf16"}, "bf16"),  # None is auto
        ("fp32", False, False, {"amx_bf16"}, "fp32"),
        ("bf16", False, False, set(), "bf16"),
        ("fp16", True, False, set(), "fp16"),
    ],
)
def test_known_cases_decide_without_a_probe(choice, on_gpu, gpu_bf16, flags, expected):
    decision = resolve(choice, on_gpu, gpu_bf16, no_probe, flags)
    assert decision.precision == expected and decision.probe is None
    assert decision.record() == {
        "precision": expected,
        "precision_reason": decision.reason,
        "precision_probe": None,
    }


def test_bad_choices_are_refused():
    with pytest.raises(ValueError, match="fp16 needs a GPU"):
        resolve("fp16", False, False, no_probe, set())
    with pytest.raises(ValueError, match="precision 'half': expected auto, fp32, bf16, fp16"):
        resolve("half", True, True, no_probe, set())


# Step seconds at batch 128 from measured img/s: the AMD EPYC VM with AVX512-BF16 (PyTorch
# scratch AlexNet 205 fp32 / 374 bf16 img/s), the Intel VM without AMX (Keras scratch
# AlexNet 83.4 / 57.1), MobileNetV2 at 96 px on the AMD VM (43 s / 49 s of training) and
# the probe's own extremes there (MobileNetV2 0.98x, pretrained AlexNet at 128 px 1.24x).
@pytest.mark.parametrize(
    ("fp32", "bf16", "expected"),
    [
        (128 / 205, 128 / 374, "bf16"),
        (128 / 83.4, 128 / 57.1, "fp32"),
        (43.0, 49.0, "fp32"),
        (0.98, 1.0, "fp32"),
        (1.24, 1.0, "bf16"),
        (1.0, 1 / MIN_BF16_SPEEDUP, "bf16"),  # the threshold itself chooses bf16
        (1.0, 1 / (MIN_BF16_SPEEDUP - 0.01), "fp32"),  # just below it, a tie stays fp32
    ],
)
def test_the_probe_chooses_bf16_only_when_clearly_faster(fp32, bf16, expected):
    decision = decide_by_probe({"fp32": fp32, "bf16": bf16}, batch_size=32)
    assert decision.precision == expected
    assert decision.probe["bf16_speedup"] == pytest.approx(fp32 / bf16)
    assert decision.probe["min_bf16_speedup"] == MIN_BF16_SPEEDUP == 1.1


class ScriptedClock:
    """A clock under which each timed step of the probe takes a set time: the probe
    times its steps in turn, fp32 then bf16 (cifar_compare.runtime.precision)."""

    def __init__(self, seconds):
        self.seconds, self.now, self.calls = seconds, 0.0, 0

    def __call__(self):
        ending = self.calls % 2 == 1
        if ending:
            self.now += self.seconds[(self.calls // 2) % len(self.seconds)]
        self.calls += 1
        return self.now


def test_time_alternating_keeps_each_steps_fastest_round_after_a_warm_up():
    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in ("fp32", "bf16")}
    # Rounds of (fp32, bf16) seconds: (3, 9), (2, 8), (4, 7).
    clock = ScriptedClock([3.0, 9.0, 2.0, 8.0, 4.0, 7.0])
    best = precisions.time_alternating(steps, rounds=3, clock=clock)
    assert best == {"fp32": 2.0, "bf16": 7.0}
    assert calls == ["fp32", "bf16"] * 4  # one untimed warm-up round, then three timed
    assert clock.calls == 12


def pytorch_adapter(config):
    from cifar_compare.pytorch.adapter import PyTorch

    return PyTorch()


def keras_adapter(config):
    from cifar_compare.keras.adapter import Keras
    from cifar_compare.keras.runtime import select_backend

    select_backend(config["backend"])
    return Keras()


@pytest.fixture
def avx512_bf16_cpu(monkeypatch):
    """A CPU where only the probe can decide, whatever this machine's CPU is."""
    monkeypatch.setattr(precisions, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})


@pytest.mark.parametrize(
    ("model", "make_adapter"),
    [("alexnet_scratch_pytorch", pytorch_adapter), ("alexnet_scratch_keras", keras_adapter)],
)
def test_auto_follows_the_probe_of_the_models_own_steps(
    model, make_adapter, avx512_bf16_cpu, monkeypatch
):
    config = CONFIG["models"][model]
    adapter = make_adapter(config)
    try:
        for fp32, bf16, expected in ((1.0, 0.5, "bf16"), (1.0, 1.5, "fp32")):
            monkeypatch.setattr(precisions, "perf_counter", ScriptedClock([fp32, bf16]))
            adapter.start(config, 0, "auto")
            decision = adapter.precision()
            assert decision.precision == expected
            assert decision.probe["fp32_step_seconds"] == pytest.approx(fp32)
            assert decision.probe["bf16_step_seconds"] == pytest.approx(bf16)
            assert decision.probe["batch_size"] == config["batch_size"]
            assert decision.record()["precision_probe"] == decision.probe
    finally:
        if model.endswith("keras"):
            import keras

            keras.mixed_precision.set_global_policy("float32")


def test_pytorch_probe_steps_compute_in_their_precision():
    import torch

    config = CONFIG["models"]["alexnet_scratch_pytorch"]
    adapter = pytorch_adapter(config)
    adapter.start(config, 0, "fp32")
    model = adapter.model_from(None)
    from cifar_compare.pytorch.train import probe_steps

    batch, steps = probe_steps(model, adapter.recipe, adapter.device)
    seen = []
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    first_conv.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    for name in ("fp32", "bf16"):
        steps[name]()
    assert batch == 16 and seen == [torch.float32, torch.bfloat16]


def test_keras_probe_steps_build_each_model_under_its_policy():
    import keras

    config = CONFIG["models"]["alexnet_scratch_keras"]
    adapter = keras_adapter(config)
    adapter.start(config, 0, "fp32")
    batch, steps = adapter.probe_steps()
    policies = {name: step.func.__self__.dtype_policy.name for name, step in steps.items()}
    assert batch == 16 and policies == {"fp32": "float32", "bf16": "mixed_bfloat16"}
    assert keras.mixed_precision.global_policy().name == "float32"  # left as it was
