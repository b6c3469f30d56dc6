rule fetch_weights:
    output:
        weights="results/weights/{weights}.pth",
        provenance="results/weights/{weights}.json",
    params:
        url=weights_url,
        allow_unofficial=config["weights"]["allow_unofficial"],
    log:
        "results/logs/fetch_weights/{weights}.log",
    retries: 2
    localrule: True
    conda:
        "../../envs/base.yaml"
    script:
        "../scripts/fetch_weights.py"
