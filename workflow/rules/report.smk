report: "../report/workflow.rst"


rule plots:
    input:
        metrics=metrics_files(),
        histories=history_files(),
        original=report_file("original_study.yaml"),
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
        code=script_code("plots.py"),
    script:
        "../scripts/plots.py"


rule report:
    input:
        unpack(curve_report_inputs),
        summary=rules.aggregate.output.csv,
        metrics=metrics_files(),
        plots=rules.plots.output,
        benchmarks=benchmark_files(),
        plots_benchmark=rules.plots.benchmark,
        template=report_file("report.html.j2"),
        stylesheet=report_file("report.css"),
        original=report_file("original_study.yaml"),
        measured_spread=report_file("measured_spread.yaml"),
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
        study=study_identity(),
        left_out=disabled_models(),
        baseline=config["report"]["baseline"],
        code=script_code("render_report.py"),
    script:
        "../scripts/render_report.py"
