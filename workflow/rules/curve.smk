# The learning curve (learning_curve.sizes): every model trained and scored at each
# size, on nested subsets of the training split, by the train and evaluate rules of
# each framework with the size's data, recipe and paths.


rule subset_data:
    input:
        prepared=rules.prepare_data.output.prepared,
    output:
        prepared=f"{SIZED}/data/cifar10.npz",
    log:
        f"{SIZED_LOGS}/subset_data.log",
    wildcard_constraints:
        size=r"\d+",
    conda:
        "../../envs/base.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000, "mem_mb"),
        runtime=per_attempt(30, "runtime"),
    params:
        seed=config["data"]["split_seed"],
        code=script_code("subset_data.py"),
    script:
        "../scripts/subset_data.py"


use rule train_pytorch as train_pytorch_sized with:
    input:
        unpack(sized_train_inputs),
    output:
        checkpoint=f"{SIZED_RUN_DIR}/checkpoint.pt",
        history=SIZED_HISTORY,
    log:
        f"{SIZED_LOGS}/train/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{SIZED_BENCHMARKS}/train/{{model}}/seed{{seed}}.tsv"
    wildcard_constraints:
        model=models_of("pytorch"),
        seed=r"\d+",
        size=r"\d+",
    params:
        model_config=sized_model_config,
        resume_dir=SIZED_RESUME_DIR,
        code=script_code("train_torch.py"),


use rule train_keras as train_keras_sized with:
    input:
        unpack(sized_train_inputs),
    output:
        checkpoint=f"{SIZED_RUN_DIR}/checkpoint.weights.h5",
        record=f"{SIZED_RUN_DIR}/checkpoint.json",
        history=SIZED_HISTORY,
    log:
        f"{SIZED_LOGS}/train/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{SIZED_BENCHMARKS}/train/{{model}}/seed{{seed}}.tsv"
    wildcard_constraints:
        model=models_of("keras"),
        seed=r"\d+",
        size=r"\d+",
    params:
        model_config=sized_model_config,
        resume_dir=SIZED_RESUME_DIR,
        code=script_code("train_keras.py"),


use rule evaluate_pytorch as evaluate_pytorch_sized with:
    input:
        checkpoint=rules.train_pytorch_sized.output.checkpoint,
        prepared=rules.subset_data.output.prepared,
    output:
        metrics=SIZED_METRICS,
    log:
        f"{SIZED_LOGS}/evaluate/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{SIZED_BENCHMARKS}/evaluate/{{model}}/seed{{seed}}.tsv"
    wildcard_constraints:
        model=models_of("pytorch"),
        seed=r"\d+",
        size=r"\d+",
    params:
        data_md5=config["data"]["md5"],
        evaluation=model_evaluation,
        study_evaluation=study_evaluation,
        model_config=sized_model_config,
        code=script_code("evaluate_torch.py"),


use rule evaluate_keras as evaluate_keras_sized with:
    input:
        checkpoint=rules.train_keras_sized.output.checkpoint,
        record=rules.train_keras_sized.output.record,
        prepared=rules.subset_data.output.prepared,
    output:
        metrics=SIZED_METRICS,
    log:
        f"{SIZED_LOGS}/evaluate/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{SIZED_BENCHMARKS}/evaluate/{{model}}/seed{{seed}}.tsv"
    wildcard_constraints:
        model=models_of("keras"),
        seed=r"\d+",
        size=r"\d+",
    params:
        data_md5=config["data"]["md5"],
        evaluation=model_evaluation,
        study_evaluation=study_evaluation,
        model_config=sized_model_config,
        code=script_code("evaluate_keras.py"),


rule learning_curve:
    input:
        metrics=curve_metrics_files(),
    output:
        table="results/tables/learning_curve.csv",
        gaps="results/tables/pretraining_gaps.csv",
        curve_png="results/plots/accuracy_vs_size.png",
        curve_svg=report(
            "results/plots/accuracy_vs_size.svg",
            caption="../report/captions/accuracy_vs_size.rst",
            category="Plots",
        ),
        gap_png="results/plots/pretraining_gap.png",
        gap_svg=report(
            "results/plots/pretraining_gap.svg",
            caption="../report/captions/pretraining_gap.rst",
            category="Plots",
        ),
    log:
        "results/logs/learning_curve.log",
    benchmark:
        "results/benchmarks/learning_curve.tsv"
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        models=report_models(),
        code=script_code("learning_curve.py"),
    script:
        "../scripts/learning_curve.py"
