rule download_cifar:
    output:
        archive="results/download/cifar-10-python.tar.gz",
        provenance="results/download/cifar-10-python.provenance.json",
    log:
        "results/logs/download_cifar.log",
    # Never rerun by Snakemake (not even under a profile's retries): a checksum or
    # format failure would only repeat; the script retries network errors itself.
    retries: 0
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        md5=config["data"]["md5"],
        code=script_code("download_cifar.py"),
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
    threads: 1
    resources:
        # The archive is read in memory, bounded: ~0.6 GB for the full set, 1.5 GB at
        # most; the rest is Python's and numpy's own.
        mem_mb=per_attempt(2000, "mem_mb"),
        runtime=per_attempt(30, "runtime"),
    params:
        md5=config["data"]["md5"],
        split={
            key: config["data"][key]
            for key in (
                "validation_fraction",
                "split_seed",
                "train_per_class",
                "test_per_class",
            )
        },
        code=script_code("prepare_data.py"),
    script:
        "../scripts/prepare_data.py"
