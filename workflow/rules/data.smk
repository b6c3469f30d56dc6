rule download_cifar:
    output:
        archive="results/download/cifar-10-python.tar.gz",
        provenance="results/download/cifar-10-python.provenance.json",
    log:
        "results/logs/download_cifar.log",
    retries: 2
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        url=config["data"]["url"],
        md5=config["data"]["md5"],
    script:
        "../scripts/download_cifar.py"


rule prepare_data:
    input:
        archive=rules.download_cifar.output.archive,
    output:
        prepared="results/data/cifar10.npz",
    log:
        "results/logs/prepare_data.log",
    benchmark:
        "results/benchmarks/prepare_data.tsv"
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=4000,
    params:
        split={
            key: config["data"][key]
            for key in (
                "validation_fraction",
                "split_seed",
                "train_per_class",
                "test_per_class",
            )
        },
    script:
        "../scripts/prepare_data.py"
