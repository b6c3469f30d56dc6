report: "../report/workflow.rst"


rule plots:
    input:
        metrics=metrics_files(),
        histories=history_files(),
        original=workflow.source_path("../report/original_study.yaml"),
    output:
        accuracy_intervals_png="results/plots/accuracy_intervals.png",
        accuracy_intervals_svg=report(
            "results/plots/accuracy_intervals.svg",
            caption="../report/captions/accuracy_intervals.rst",
            category="Plots",
        ),
        learning_curves_png="results/plots/learning_curves.png",
        learning_curves_svg=report(
            "results/plots/learning_curves.svg",
            caption="../report/captions/learning_curves.rst",
            category="Plots",
        ),
        confusion_matrices_png="results/plots/confusion_matrices.png",
        confusion_matrices_svg=report(
            "results/plots/confusion_matrices.svg",
            caption="../report/captions/confusion_matrices.rst",
            category="Plots",
        ),
        per_class_accuracy_png="results/plots/per_class_accuracy.png",
        per_class_accuracy_svg=report(
            "results/plots/per_class_accuracy.svg",
            caption="../report/captions/per_class_accuracy.rst",
            category="Plots",
        ),
        accuracy_vs_cost_png="results/plots/accuracy_vs_cost.png",
        accuracy_vs_cost_svg=report(
            "results/plots/accuracy_vs_cost.svg",
            caption="../report/captions/accuracy_vs_cost.rst",
            category="Plots",
        ),
        reliability_png="results/plots/reliability.png",
        reliability_svg=report(
            "results/plots/reliability.svg",
            caption="../report/captions/reliability.rst",
            category="Plots",
        ),
    log:
        "results/logs/plots.log",
    benchmark:
        "results/benchmarks/plots.tsv"
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        models=report_models(),
    script:
        "../scripts/plots.py"


rule report:
    input:
        summary=rules.aggregate.output.csv,
        metrics=metrics_files(),
        plots=rules.plots.output,
        benchmarks=benchmark_files(),
        plots_benchmark=rules.plots.benchmark,
        template=workflow.source_path("../report/report.html.j2"),
        stylesheet=workflow.source_path("../report/report.css"),
        original=workflow.source_path("../report/original_study.yaml"),
        data_provenance=rules.download_cifar.output.provenance,
        baseline=baseline_metrics(),
    output:
        pdf=report(
            "results/report.pdf",
            caption="../report/captions/report.rst",
            category="Report",
        ),
        html="results/report.html",
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        models=report_models(),
        config=config,
        repository=workflow.basedir,
        baseline=config["report"]["baseline"],
    script:
        "../scripts/render_report.py"
