"""What `precision: auto` trains in. Known cases settle it at once: a GPU (bf16 where it
computes bf16 natively), a CPU with AMX (bf16) or with no bf16 instructions (fp32). On
a CPU with AVX512-BF16 but no AMX the answer depends on the CPU, the framework and the
model (docs/usage.md: Precision), so a probe decides: a few training steps of the model itself
on random data in each precision, timed in alternation, the fastest of each kept.
"""

from dataclasses import dataclass
from time import perf_counter

from cifar_compare.runtime.hardware import cpu_flags

PRECISIONS = ("fp32", "bf16", "fp16")
AMX_FLAGS = {"amx_bf16"}
BF16_FLAGS = {"amx_bf16", "avx512_bf16"}
# bf16 is chosen only when its step is at least this many times faster than fp32's; a
# tie stays fp32, which cannot cost accuracy. Measured with the probe on the AVX512-BF16
# VM (3 probes each, at the training batch): MobileNetV2 0.89-0.98, pretrained AlexNet at 128 px
# 1.24-1.27, the scratch AlexNets 1.56-2.05; one model's probes scattered by about 5 %.
MIN_BF16_SPEEDUP = 1.1
PROBE_ROUNDS = 3  # timed rounds after one untimed warm-up round, of one training batch each


@dataclass(frozen=True)
class Decision:
    precision: str  # fp32, bf16 or fp16
    reason: str  # why: the config's choice, the device, or the probe
    probe: dict | None = None  # the probe's figures, where one ran

    def record(self):
        """The fields of the training summary (metrics `training`)."""
        return {
            "precision": self.precision,
            "precision_reason": self.reason,
            "precision_probe": self.probe,
        }


def cpu_has_bf16_instructions(flags=None):
    """True where the CPU computes bf16 products natively (AMX-BF16 or AVX512-BF16)."""
    return not BF16_FLAGS.isdisjoint(cpu_flags() if flags is None else flags)


def shortcut(choice, on_gpu, gpu_bf16, flags):
    """The Decision where no probe is needed; None where one is."""
    if choice == "fp16" and not on_gpu:
        raise ValueError("precision fp16 needs a GPU; use bf16 or fp32 on a CPU")
    if choice in PRECISIONS:
        return Decision(choice, "set in the config")
    if choice != "auto":
        raise ValueError(f"precision {choice!r}: expected auto, {', '.join(PRECISIONS)}")
    if on_gpu:
        return (
            Decision("bf16", "GPU with bf16") if gpu_bf16 else Decision("fp32", "GPU without bf16")
        )
    if not AMX_FLAGS.isdisjoint(flags):
        return Decision("bf16", "CPU with AMX")
    if not cpu_has_bf16_instructions(flags):
        return Decision("fp32", "CPU without bf16 instructions")
    return None


def time_alternating(steps, rounds=PROBE_ROUNDS, clock=None):
    """Each of `steps` (name -> call) once untimed, then `rounds` times in turn;
    the fastest seconds of each name. Alternating spreads a shared machine's drift
    over every name alike."""
    clock = clock or perf_counter
    for step in steps.values():
        step()
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):
        for name, step in steps.items():
            start = clock()
            step()
            best[name] = min(best[name], clock() - start)
    return best


def decide_by_probe(seconds, batch_size, rounds=PROBE_ROUNDS):
    """bf16 where its step is at least MIN_BF16_SPEEDUP times faster than fp32's."""
    speedup = seconds["fp32"] / seconds["bf16"]
    probe = {
        "fp32_step_seconds": seconds["fp32"],
        "bf16_step_seconds": seconds["bf16"],
        "bf16_speedup": speedup,
        "min_bf16_speedup": MIN_BF16_SPEEDUP,
        "batch_size": batch_size,
        "rounds": rounds,
    }
    precision = "bf16" if speedup >= MIN_BF16_SPEEDUP else "fp32"
    return Decision(precision, "probe on a CPU with AVX512-BF16", probe)


def resolve(choice, on_gpu, gpu_bf16, probe_steps, flags=None, clock=None):
    """The Decision for the config's `choice` (auto, fp32, bf16, fp16; None = auto).
    `probe_steps()` returns (batch size, {"fp32": step, "bf16": step}), each step a call
    training the model one batch in that precision; it is called only where a probe decides."""
    choice = choice or "auto"
    decision = shortcut(choice, on_gpu, gpu_bf16, cpu_flags() if flags is None else flags)
    if decision:
        return decision
    batch_size, steps = probe_steps()
    return decide_by_probe(time_alternating(steps, clock=clock), batch_size)


def precision_text(decision):
    """The decision in words, for logs and the report."""
    probe = decision.probe
    if not probe:
        return f"{decision.precision} ({decision.reason})"
    return (
        f"{decision.precision} (probe: a bf16 step {probe['bf16_speedup']:.2f}x as fast as "
        f"fp32; bf16 from {probe['min_bf16_speedup']}x)"
    )
