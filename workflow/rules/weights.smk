rule fetch_weights:
    output:
        weights="results/weights/{weights}.{suffix}",
        provenance="results/weights/{weights}.{suffix}.json",
    log:
        "results/logs/fetch_weights/{weights}.{suffix}.log",
    wildcard_constraints:
        suffix="pth|h5",
    # Never rerun by Snakemake (not even under a profile's retries): a checksum or
    # format failure would only repeat; the script retries network errors itself.
    retries: 0
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        identity=weights_identity,
        code=script_code("fetch_weights.py"),
    script:
        "../scripts/fetch_weights.py"
