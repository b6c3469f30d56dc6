rule aggregate:
    input:
        metrics=metrics_files(),
    output:
        csv="results/tables/summary.csv",
        markdown="results/tables/summary.md",
    log:
        "results/logs/aggregate.log",
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        code=script_code("aggregate.py"),
    script:
        "../scripts/aggregate.py"
