rule evaluate_pytorch:
    input:
        checkpoint=rules.train_pytorch.output.checkpoint,
        prepared=rules.prepare_data.output.prepared,
    output:
        metrics=METRICS,
    log:
        "results/logs/evaluate/{model}/seed{seed}.log",
    benchmark:
        EVALUATE_BENCHMARK
    wildcard_constraints:
        model=models_of("pytorch"),
        seed=r"\d+",
    conda:
        "../../envs/pytorch.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=per_attempt(4000, "mem_mb"),
        runtime=per_attempt(30, "runtime"),
    params:
        data_md5=config["data"]["md5"],
        evaluation=model_evaluation,
        study_evaluation=study_evaluation,
        model_config=model_config,
        code=script_code("evaluate_torch.py"),
    script:
        "../scripts/evaluate_torch.py"


rule evaluate_keras:
    input:
        checkpoint=rules.train_keras.output.checkpoint,
        record=rules.train_keras.output.record,
        prepared=rules.prepare_data.output.prepared,
    output:
        metrics=METRICS,
    log:
        "results/logs/evaluate/{model}/seed{seed}.log",
    benchmark:
        EVALUATE_BENCHMARK
    wildcard_constraints:
        model=models_of("keras"),
        seed=r"\d+",
    conda:
        KERAS_CONDA_ENV
    threads: 2
    resources:
        gpu=1,
        mem_mb=per_attempt(4000, "mem_mb"),
        runtime=per_attempt(30, "runtime"),
    params:
        data_md5=config["data"]["md5"],
        evaluation=model_evaluation,
        study_evaluation=study_evaluation,
        model_config=model_config,
        code=script_code("evaluate_keras.py"),
    script:
        "../scripts/evaluate_keras.py"
