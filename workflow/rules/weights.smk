rule fetch_weights:
    output:
        weights="results/weights/{weights}.pth",
        provenance="results/weights/{weights}.json",
    log:
        "results/logs/fetch_weights/{weights}.log",
    retries: 2
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        url=weights_url,
        allow_unofficial=config["weights"]["allow_unofficial"],
    script:
        "../scripts/fetch_weights.py"
