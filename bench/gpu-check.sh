#!/usr/bin/env bash
# The prepared GPU check: the benchmark tables of every configured model, the
# naive baselines beside them, on one GPU, then the tiny study end to end through
# Snakemake (all four models, both frameworks) with a check that every train and
# evaluate job used the GPU; in under 5 minutes (sized for an H100/H200). Meant for a machine whose python3 has PyTorch, torchvision and
# JAX but neither Keras nor jsonschema and no network: run `make gpu-wheels`
# on a machine with pip access, carry the repository with its .whl/ folder,
# then, from the repository root:
#
#     bash bench/gpu-check.sh            # tables on stdout, files in $OUT or bench/out/gpu
#
# The Keras models run on the JAX backend there (the default TensorFlow backend
# is not installed). Each stage has its own time limit so one slow stage cannot
# eat the others'.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench/out}/gpu"
mkdir -p "$out"

if compgen -G ".whl/*.whl" >/dev/null; then
  site=/tmp/cifar-compare-site
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" .whl/*.whl || exit 1
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
# JAX takes 75 % of the GPU up front by default; the bench measures peaks instead.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
  --format=csv,noheader
python3 -c "import torch, jax; print('torch', torch.__version__, 'jax', jax.__version__)"

# GPU_CHECK_ARGS adds arguments to every stage (a dry run on a CPU, for instance:
# GPU_CHECK_ARGS="--steps 1 --warmup 1 --train-images 2000 --input-size 64").
read -ra extra <<<"${GPU_CHECK_ARGS:-}"
common=(--steps 20 --warmup 5 --repeats 2)
stage() {  # name, seconds, command...
  local name=$1 limit=$2
  shift 2
  echo "== $name"
  timeout "$limit" "$@" "${extra[@]}" 2>&1 | grep -v -e '^WARNING' -e '^I0000' -e '^E0000'
  local status=${PIPESTATUS[0]}
  [ "$status" -eq 0 ] || echo "== $name ended with status $status (124: over its ${limit}s)"
}
stage pytorch 70 python3 bench/bench_torch.py "${common[@]}" --naive --out "$out"
stage keras 120 python3 bench/bench_keras.py "${common[@]}" --naive --backend jax --out "$out"
# Larger batches: what the data pipeline allows once the step is the only cost.
stage pytorch-batch512 15 python3 bench/bench_torch.py "${common[@]}" --batch-size 512 \
  --out "$out/batch512"
# The pipeline itself: fails (status 1) if any train/evaluate job ran on the CPU.
extra=()  # the bench arguments above do not apply to it
stage pipeline 90 python3 bench/gpu_pipeline.py "$out/pipeline"
