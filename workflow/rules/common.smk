import os
import sys
from pathlib import Path

from snakemake.logging import logger

# The workflow's own pure-Python helpers (no framework imports at DAG build).
SCRIPTS = Path(workflow.current_basedir).parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
from cifar_compare.config import (
    ConfigError,
    check_command_line_paths,
    check_study_config,
)
from cifar_compare.code_identity import code_digest
from cifar_compare.runtime.cluster_fit import (
    ClusterError,
    Request,
    grown,
    read_partitions,
    retry_caps,
    unfit_lines,
)
from cifar_compare.runtime.hardware import machine_has_gpu
from cifar_compare.curve.schedule import sized_recipe
from cifar_compare.identity import evaluation_policy, recipe, sorted_keys, study
from cifar_compare.fileio import (
    RESULTS,
    SymlinkedFolder,
    refuse_symlinked_folders_below,
)
from cifar_compare.metrics import read_metrics_file
from cifar_compare.weights import file_suffix, read_lock

# Shared by both frameworks' rules, so aggregation and the report need no branches.
RUN_DIR = "results/models/{model}/seed{seed}"
HISTORY = f"{RUN_DIR}/history.csv"
# Per-epoch training state: not a rule output, so a failed job's state survives
# for the next attempt to resume from; a finished job removes it.
RESUME_DIR = "results/resume/{model}/seed{seed}"
METRICS = "results/metrics/{model}/seed{seed}.json"
TRAIN_BENCHMARK = "results/benchmarks/train/{model}/seed{seed}.tsv"
EVALUATE_BENCHMARK = "results/benchmarks/evaluate/{model}/seed{seed}.tsv"
# The same per learning-curve size (learning_curve.sizes): one folder per size.
SIZED = "results/sizes/n{size}"
SIZED_RUN_DIR = f"{SIZED}/models/{{model}}/seed{{seed}}"
SIZED_HISTORY = f"{SIZED_RUN_DIR}/history.csv"
SIZED_RESUME_DIR = "results/resume/sizes/n{size}/{model}/seed{seed}"
SIZED_METRICS = f"{SIZED}/metrics/{{model}}/seed{{seed}}.json"
SIZED_LOGS = "results/logs/sizes/n{size}"
SIZED_BENCHMARKS = "results/benchmarks/sizes/n{size}"


def check_config(config):
    try:
        check_command_line_paths(
            {
                "config file": workflow.configfiles,
                "working directory": [os.getcwd()],
                "Snakefile": [workflow.main_snakefile],
            }
        )
        check_study_config(config, workflow.configfiles)
    except ConfigError as error:
        raise WorkflowError(f"invalid configuration, {error}") from None


def check_results_folder():
    """No job starts while a folder below results/ is a symbolic link: Snakemake
    itself deletes a job's old outputs through it before the job runs."""
    try:
        refuse_symlinked_folders_below(RESULTS)
    except SymlinkedFolder as error:
        raise WorkflowError(f"results folder: {error}") from None


def keras_conda_env():
    """The Keras rules' conda env: TensorFlow's GPU build where this machine has an
    NVIDIA GPU or CIFAR_COMPARE_CONDA_GPU=1 (a login node submitting to GPU nodes)."""
    gpu = os.environ.get("CIFAR_COMPARE_CONDA_GPU") == "1" or machine_has_gpu()
    return "../../envs/keras-gpu.yaml" if gpu else "../../envs/keras.yaml"


KERAS_CONDA_ENV = keras_conda_env()


# Rule -> {"mem_mb": MB, "runtime": minutes}: the most its retries may ask for, what
# its SLURM partition's nodes hold (check_cluster_requests); empty off SLURM.
RETRY_CAPS = {}


def per_attempt(amount, resource):
    """`resource` (mem_mb, runtime): `amount` at a job's first attempt, twice that at
    the retry after running out of memory or time, on SLURM no more than a node of the
    rule's partition holds (a request no node holds would pend forever)."""

    def scaled(wildcards, attempt, rulename):
        return grown(amount, attempt, RETRY_CAPS.get(rulename, {}).get(resource))

    return scaled


def slurm_run():
    """Whether this is the Snakemake that submits the jobs of a SLURM run."""
    plugin = workflow.executor_plugin
    return (
        not workflow.remote_exec and plugin is not None and plugin.cli_prefix == "slurm"
    )


def job_request(job, attempt):
    """What `job` asks SLURM for at `attempt` (as the executor plugin submits it)."""
    resources = job.rule.expand_resources(job.wildcards_dict, job.input, attempt)
    return Request(
        rule_name=job.rule.name,
        attempt=attempt,
        partition=resources.get("slurm_partition"),
        cpus=resources.get("cpus_per_task") or resources["_cores"],
        mem_mb=resources.get("mem_mb", 0),
        gpus=resources.get("gpu", 0),
        minutes=resources.get("runtime"),
    )


def check_cluster_requests():
    """onstart: on SLURM, cap each rule's retries at what its partition's nodes hold,
    then stop, before anything is submitted, if a job at any attempt fits no node."""
    if not slurm_run():
        return
    try:
        partitions, default = read_partitions()
    except ClusterError as error:
        raise WorkflowError(
            f"pre-flight check of the SLURM requests: {error}"
        ) from None
    # One job per rule: the rules' requests do not depend on wildcards.
    jobs = {
        job.rule.name: job for job in workflow.dag.needrun_jobs() if not job.is_local
    }
    for rule, job in jobs.items():
        first = job_request(job, 1)
        RETRY_CAPS[rule] = retry_caps(
            first, partitions.get(first.partition or default, [])
        )
    attempts = range(1, workflow.execution_settings.retries + 2)
    requests = [
        job_request(job, attempt) for job in jobs.values() for attempt in attempts
    ]
    unfit = unfit_lines(requests, partitions, default)
    if unfit:
        raise WorkflowError(
            "these jobs fit no node of their SLURM partition and would pend forever; "
            "nothing was submitted (docs/cluster.md):\n" + "\n".join(unfit)
        )


def announce_report():
    """onsuccess: say where the report is, when it was among this run's targets (then
    it is up to date); a dry run or a run with nothing to do says nothing."""
    if any(job.rule.name == "report" for job in workflow.dag.jobs):
        pdf = Path(rules.report.output.pdf).resolve()
        logger.info(
            f"The report: {pdf} (and {pdf.with_suffix('.html').name} beside it)"
        )


def enabled_models():
    return {name: m for name, m in config["models"].items() if m["enabled"]}


def disabled_models():
    """Names of the configured models left out of this run (named in the report)."""
    return sorted(name for name, m in config["models"].items() if not m["enabled"])


def models_of(framework):
    """Regex alternation of the enabled models of one framework (a wildcard constraint)."""
    names = [n for n, m in enabled_models().items() if m["framework"] == framework]
    return "|".join(names) if names else "(?!)"


def model_config(wildcards):
    """The model's training recipe (no seeds, no enabled, no test-time views, keys
    sorted): what its checkpoint depends on."""
    return recipe(config["models"][wildcards.model])


def model_evaluation(wildcards):
    """How the model's test images are scored (a param of evaluation only: changing it
    scores the trained models again, it does not retrain them)."""
    return evaluation_policy(config["models"][wildcards.model])


def study_evaluation(wildcards):
    """The study's own test-time settings, recorded beside each model's (keys sorted;
    asked at job time: the config's defaults are filled after this file is read)."""
    return sorted_keys(config["evaluation"])


def script_code(script):
    """Digest of a script in workflow/scripts and of every module it imports (a param)."""
    return code_digest(SCRIPTS / script, SCRIPTS)


def report_file(name):
    """A file of workflow/report/ as an input path relative to the working directory
    (workflow.source_path() records an absolute path: a moved checkout would rerun)."""
    return os.path.relpath(SCRIPTS.parent / "report" / name)


def train_inputs(wildcards):
    """Prepared data, plus the weights file and its provenance for pretrained models."""
    inputs = {"prepared": rules.prepare_data.output.prepared}
    weights = model_config(wildcards)["weights"]
    if weights:
        fetched = rules.fetch_weights.output
        where = {"weights": weights, "suffix": file_suffix(weights)}
        inputs["weights"] = expand(fetched.weights, **where)[0]
        inputs["provenance"] = expand(fetched.provenance, **where)[0]
    return inputs


def weights_identity(wildcards):
    """What a fetched weights file must be: its pinned sha256 (if any), the sha256 its
    source declares (if any) and whether unofficial files are accepted; not its URL."""
    name = wildcards.weights
    return {
        "pinned_sha256": read_lock().get(name),
        "source_sha256": config["weights"]["sources"].get(name, {}).get("sha256"),
        "allow_unofficial": config["weights"]["allow_unofficial"],
    }


def model_seed_paths(pattern, **fixed):
    """`pattern` expanded for every enabled (model, seed), in config order."""
    return [
        expand(pattern, model=name, seed=seed, **fixed)[0]
        for name, model in enabled_models().items()
        for seed in model["seeds"]
    ]


def curve_sizes():
    """The learning curve's sizes (images per class), smallest first; none: one size."""
    return sorted(config["learning_curve"]["sizes"])


def headline(single, sized):
    """`single` expanded for every (model, seed); with a learning curve, `sized` at its
    largest size, whose results the tables and verdicts then show."""
    if curve_sizes():
        return model_seed_paths(sized, size=curve_sizes()[-1])
    return model_seed_paths(single)


def metrics_files():
    """The metrics the tables, plots and report show."""
    return headline(METRICS, SIZED_METRICS)


def history_files():
    """Every (model, seed) pair's training history, in the order of metrics_files()."""
    return headline(HISTORY, SIZED_HISTORY)


def benchmark_files():
    """Timings of data preparation and of every (model, seed) train and evaluate job."""
    return [
        rules.prepare_data.benchmark,
        *headline(
            TRAIN_BENCHMARK, f"{SIZED_BENCHMARKS}/train/{{model}}/seed{{seed}}.tsv"
        ),
        *headline(
            EVALUATE_BENCHMARK,
            f"{SIZED_BENCHMARKS}/evaluate/{{model}}/seed{{seed}}.tsv",
        ),
    ]


def curve_metrics_files():
    """Every (model, size, seed) metrics file of the learning curve."""
    return [
        path
        for size in curve_sizes()
        for path in model_seed_paths(SIZED_METRICS, size=size)
    ]


def sized_model_config(wildcards):
    """The model's recipe at one learning-curve size, with its `curve` record."""
    schedule = config["learning_curve"]["schedule"]
    return sorted_keys(
        sized_recipe(model_config(wildcards), int(wildcards.size), schedule)
    )


def sized_train_inputs(wildcards):
    """train_inputs with the size's subset of the prepared data."""
    subset = expand(rules.subset_data.output.prepared, size=wildcards.size)[0]
    return {**train_inputs(wildcards), "prepared": subset}


def curve_report_inputs(wildcards):
    """The learning-curve tables and figures, for a study with a curve."""
    return dict(rules.learning_curve.output.items()) if curve_sizes() else {}


def study_identity():
    return study(config)


def baseline_metrics():
    """Metrics files of the run named by report.baseline (its results folder), each checked
    against the metrics schema before any job starts; none without."""
    folder = config["report"]["baseline"]
    if not folder:
        return []
    found = sorted(str(p) for p in Path(folder).glob("metrics/*/seed*.json"))
    if not found:
        raise WorkflowError(
            f"invalid configuration, key report.baseline: no metrics files under {folder}/metrics"
        )
    try:
        for path in found:
            read_metrics_file(path)
    except ValueError as error:
        raise WorkflowError(
            f"invalid configuration, key report.baseline: {error}"
        ) from None
    return found


def report_models():
    """Model name -> seeds of every enabled model: all that the report may show."""
    return {name: model["seeds"] for name, model in enabled_models().items()}
