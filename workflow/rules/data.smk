rule download_cifar:
    output:
        archive="results/download/cifar-10-python.tar.gz",
    params:
        url=config["data"]["url"],
        md5=config["data"]["md5"],
    log:
        "results/logs/download_cifar.log",
    retries: 2
    localrule: True
    conda:
        "../../envs/base.yaml"
    script:
        "../scripts/download_cifar.py"


rule prepare_data:
    input:
        archive=rules.download_cifar.output.archive,
    output:
        prepared="results/data/cifar10.npz",
    params:
        split={
            key: config["data"][key]
            for key in ("validation_fraction", "split_seed", "train_per_class", "test_per_class")
        },
    log:
        "results/logs/prepare_data.log",
    benchmark:
        "results/benchmarks/prepare_data.tsv"
    resources:
        mem_mb=4000,
    conda:
        "../../envs/base.yaml"
    script:
        "../scripts/prepare_data.py"
