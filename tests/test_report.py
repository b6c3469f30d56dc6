"""The rendered report: what the PDF says, what it may not say, and when it is rebuilt."""

import json
import re
import shutil
import zipfile

import pytest
from conftest import TINY, planned_jobs, snakemake, write_overlay
from pypdf import PdfReader

pytestmark = pytest.mark.pipeline
KERAS = ["alexnet_scratch_keras", "mobilenetv2_pretrained_keras"]  # left out where not needed


def pdf_text(workdir):
    reader = PdfReader(workdir / "results/report.pdf")
    return "\n".join(page.extract_text() for page in reader.pages)


def all_metrics(workdir):
    return [json.loads(p.read_text()) for p in sorted(workdir.glob("results/metrics/*/seed*.json"))]


def pdf_fonts(workdir):
    fonts = set()
    for page in PdfReader(workdir / "results/report.pdf").pages:
        for font in page["/Resources"].get("/Font", {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    return fonts


def left_out_note(text):
    """The model names in the report's note on models it does not show."""
    note = re.search(
        r"Not in this report \(disabled in the\s+configuration.*?\):(.*?)\.\s", text, re.S
    )
    assert note, "no note on left-out models"
    return [name.strip() for name in note[1].split(",")]


def assert_accuracies_shown(text, metrics):
    """Each model and seed's test accuracy, formatted from its JSON, on its own table row."""
    for m in metrics:
        accuracy = f"{100 * m['test_accuracy']:.2f}"
        row = rf"^{m['model']} {m['seed']} {re.escape(accuracy)} "
        assert re.search(row, text, re.M), f"{m['model']} seed {m['seed']}: {accuracy} missing"


def test_report_shows_each_models_test_accuracy(tiny_run):
    text = pdf_text(tiny_run)
    metrics = all_metrics(tiny_run)
    assert {"alexnet_scratch_pytorch", "alexnet_pretrained_pytorch"} <= {
        m["model"] for m in metrics
    }
    assert_accuracies_shown(text, metrics)
    for m in metrics:  # one seed each: the summary row shows the same figure, no spread
        summary = rf"^{m['model']} {m['model_config']['input_size']} px 1 "
        assert re.search(summary + re.escape(f"{100 * m['test_accuracy']:.2f} "), text, re.M)


def test_provenance_lists_weights_hashes_and_warns_about_standin_weights(tiny_run):
    text = pdf_text(tiny_run)
    appendix = text.split("Appendix: provenance")[1]
    pretrained = [m for m in all_metrics(tiny_run) if m["weights"]]
    assert "alexnet_pretrained_pytorch" in {m["model"] for m in pretrained}
    for m in pretrained:  # every test run uses stand-in weights
        assert m["weights"]["official"] is False
        assert m["weights"]["sha256"] in re.sub(r"\s", "", appendix)
        assert f"WARNING: {m['model']} used weights that are not the official" in text
    assert appendix.count("WARNING: not the official weights") == len(pretrained)
    # the tiny generated archive is not CIFAR-10: page 1 says so, the appendix names its source
    first_page = PdfReader(tiny_run / "results/report.pdf").pages[0].extract_text()
    assert "WARNING: The CIFAR-10 archive of this run" in first_page
    md5 = all_metrics(tiny_run)[0]["data"]["archive_md5"]
    assert {m["data"]["archive_md5"] for m in all_metrics(tiny_run)} == {md5}
    assert f"archive md5 {md5}" in appendix and "cifar-10-python.tar.gz" in appendix
    assert text.startswith("AlexNet from scratch")
    assert "git commit not a git checkout" in appendix
    assert re.search(r"config sha256 [0-9a-f]{64}", appendix)
    assert re.search(r"^train/alexnet_scratch_pytorch/seed0 \d", appendix, re.M)


def test_report_renders_offline_with_local_fonts_and_web_copy(tiny_run):
    fonts = pdf_fonts(tiny_run)
    assert "DejaVu-Sans" in fonts, fonts  # fonts were found, and the body font is local
    assert fonts <= {"DejaVu-Sans", "DejaVu-Sans-Bold", "DejaVu-Sans-Mono"}
    html = (tiny_run / "results/report.html").read_text()
    sources = re.findall(r'src="([^"]+)"', html)
    assert len(sources) == 6 and all(s.endswith(".svg") for s in sources)
    assert all((tiny_run / "results" / s).is_file() for s in sources)
    assert "http://" not in html and "https://" not in html
    assert len(list((tiny_run / "results/plots").glob("*.png"))) == 6


def test_snakemake_report_archive(tiny_run_copy):
    snakemake(tiny_run_copy, *TINY, "--report", "report.zip")
    names = zipfile.ZipFile(tiny_run_copy / "report.zip").namelist()
    assert any(n.endswith("/report.pdf") for n in names)
    assert sum(n.endswith(".svg") for n in names) == 6


def test_report_baseline_adds_the_run_against_run_section(tiny_run, tiny_run_copy, tmp_path):
    workdir = tiny_run_copy
    missing = write_overlay(workdir / "missing.yaml", {"report": {"baseline": str(tmp_path)}})
    refused = snakemake(workdir, *TINY, missing.name, "-n", check=False)
    assert refused.returncode != 0 and "report.baseline" in refused.stdout
    itself = write_overlay(
        workdir / "self.yaml", {"report": {"baseline": str(tiny_run / "results")}}
    )
    done = snakemake(workdir, *TINY, itself.name)
    assert "train_pytorch" not in done.stdout  # only the report is rebuilt
    text = pdf_text(workdir)
    assert "This run against the baseline run" in text
    for m in all_metrics(workdir):  # against itself: the same predictions, no difference
        assert re.search(rf"^{m['model']} \+0\.00 ", text, re.M), m["model"]


def test_a_failed_model_blocks_the_report_until_disabled_then_a_note_names_it(tiny_run_copy):
    """docs/output.md, a model's job fails: with --keep-going the other models finish, but
    no table or report is built; disabling the failed model gives a report without it that
    says so, and enabling it again plans to train only it and rebuild the report. (From
    the tiny run, its summary, plots and report removed: the scratch model is already
    trained.)"""
    workdir = tiny_run_copy
    outputs = ["results/tables", "results/plots", "results/report.pdf", "results/report.html"]
    others = [f"results/metrics/{name}" for name in ("alexnet_pretrained_pytorch", *KERAS)]
    for built in [*outputs, *others]:  # as if only the scratch model had been run
        path = workdir / built
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    keras_off = {name: {"enabled": False} for name in KERAS}
    tiny = [*TINY, write_overlay(workdir / "pytorch.yaml", {"models": keras_off}).name]
    report = workdir / "results/report.pdf"
    pretrained = "alexnet_pretrained_pytorch"
    # An absurd learning rate makes the loss non-finite: its training job fails.
    exploding = {"optimizer": {"name": "sgd", "lr": 1.0e30}}
    write_overlay(workdir / "failing.yaml", {"models": {pretrained: exploding}})
    failed = snakemake(workdir, *tiny, "failing.yaml", "--keep-going", check=False)
    assert failed.returncode != 0 and not report.exists()
    assert not (workdir / "results/tables/summary.csv").exists()
    assert (workdir / "results/metrics/alexnet_scratch_pytorch/seed0.json").is_file()

    write_overlay(workdir / "absent.yaml", {"models": {pretrained: {"enabled": False}}})
    rerun = snakemake(workdir, *tiny, "absent.yaml")
    assert "rule train_" not in rerun.stdout  # the finished model is not trained again
    text = pdf_text(workdir)
    assert "used weights that are not the official" not in text
    assert set(left_out_note(text)) == {pretrained, *KERAS}
    assert text.count(pretrained) == 1  # in the note only
    assert_accuracies_shown(text, all_metrics(workdir))

    # The pretrained model back: the plan trains and evaluates only it, then rebuilds
    # the tables, plots and report (the report of two PyTorch models is the tiny run's).
    plan = snakemake(workdir, *tiny, "-n").stdout
    assert planned_jobs(plan, ("model", "seed")) == {
        f"train_pytorch {pretrained} 0",
        f"evaluate_pytorch {pretrained} 0",
        "aggregate",
        "plots",
        "report",
    }
