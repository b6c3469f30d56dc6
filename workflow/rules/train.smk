rule train_pytorch:
    input:
        unpack(train_inputs),
    output:
        checkpoint=f"{RUN_DIR}/checkpoint.pt",
        history=HISTORY,
    log:
        "results/logs/train/{model}/seed{seed}.log",
    benchmark:
        TRAIN_BENCHMARK
    wildcard_constraints:
        model=models_of("pytorch"),
        seed=r"\d+",
    conda:
        "../../envs/pytorch.yaml"
    threads: 4
    resources:
        gpu=1,
        mem_mb=per_attempt(8000, "mem_mb"),
        runtime=per_attempt(120, "runtime"),
    params:
        model_config=model_config,
        resume_dir=RESUME_DIR,
        code=script_code("train_torch.py"),
    script:
        "../scripts/train_torch.py"


rule train_keras:
    input:
        unpack(train_inputs),
    output:
        checkpoint=f"{RUN_DIR}/checkpoint.weights.h5",
        record=f"{RUN_DIR}/checkpoint.json",
        history=HISTORY,
    log:
        "results/logs/train/{model}/seed{seed}.log",
    benchmark:
        TRAIN_BENCHMARK
    wildcard_constraints:
        model=models_of("keras"),
        seed=r"\d+",
    conda:
        KERAS_CONDA_ENV
    threads: 4
    resources:
        gpu=1,
        mem_mb=per_attempt(8000, "mem_mb"),
        runtime=per_attempt(120, "runtime"),
    params:
        model_config=model_config,
        resume_dir=RESUME_DIR,
        code=script_code("train_keras.py"),
    script:
        "../scripts/train_keras.py"
