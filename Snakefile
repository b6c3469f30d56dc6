from snakemake.utils import min_version

min_version("9.0")


# Other configs (config/quick.yaml, config/original.yaml, your own) are applied
# on top of this one with --configfile.
configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


check_config(config)
check_results_folder()


onstart:
    check_cluster_requests()


onsuccess:
    announce_report()


include: "workflow/rules/data.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/curve.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.aggregate.output,
        rules.report.output,
