"""Render the study report to HTML (SVG figures) and PDF (PNG figures, via WeasyPrint).

Reads only metrics JSON (summarised by cifar_compare.report.data, as the tables are)
and Snakemake benchmark files; no training code is imported. Fonts are local (CSS
font-family), so it renders offline.
"""

import datetime
import hashlib
import json
import os
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import jinja2
import yaml

from cifar_compare.fileio import atomic_path, read_json, write_text_atomic
from cifar_compare.messages import redact_url
from cifar_compare.metrics import read_metrics_file
from cifar_compare.report import FIGURES
from cifar_compare.report import format as fmt
from cifar_compare.report.context import report_context
from cifar_compare.report.curve import curve_section
from cifar_compare.report.data import model_results, recorded_results
from cifar_compare.report.provenance import benchmark_summary, data_summary
from cifar_compare.report.spread import check_measurements
from cifar_compare.report.tables import (
    layer_counts,
    per_class_accuracy,
    precision_cell,
    recipe_text,
    recorded,
    training_phases,
    weights_check,
)

# The checkout this code runs from: the one whose commit the report records.
REPOSITORY = Path(__file__).resolve().parent


def config_hash(config):
    """sha256 of the resolved config, keys sorted, as canonical JSON."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def git_commit(repository):
    """The checkout's commit, marked when it has uncommitted changes to tracked files."""

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(repository), *args], capture_output=True, text=True, check=False
        )

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def image_paths(plot_files, document, image_format):
    """Plot name -> path of its `image_format` file relative to the document."""
    found = {Path(p).stem: p for p in plot_files if Path(p).suffix == f".{image_format}"}
    missing = set(FIGURES) - set(found)
    if missing:
        raise ValueError(f"no {image_format} file for plots {sorted(missing)}")
    base = Path(document).resolve().parent
    return {name: os.path.relpath(Path(found[name]).resolve(), base) for name in FIGURES}


def curve_images(inputs, document, image_format):
    """The learning-curve figures' paths relative to the document; none without a curve."""
    base = Path(document).resolve().parent
    found = {name: getattr(inputs, f"{name}_{image_format}", None) for name in ("curve", "gap")}
    return {name: os.path.relpath(Path(p).resolve(), base) for name, p in found.items() if p}


def template_from(path):
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(path).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    # A line break may follow each underscore (long model names in narrow headers).
    environment.filters["breakable"] = lambda text: text.replace("_", "_\u200b")
    # The template writes cells from the results with the functions the text uses.
    cells = (fmt.percent, fmt.accuracy_text, fmt.interval_text, fmt.seconds, fmt.rate)
    cells += (fmt.megabytes, fmt.size_bytes, recipe_text, training_phases, layer_counts)
    cells += (per_class_accuracy, recorded, precision_cell, weights_check, redact_url)
    cells += (fmt.signed_points,)
    environment.filters.update({write.__name__: write for write in cells})
    return environment.get_template(Path(path).name)


def report_file_path(url, folder):
    """The file a file:// `url` names if it lies inside `folder` once links are resolved,
    else None: the only resources the PDF may embed are the report's own files."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        return None
    path = Path(urllib.request.url2pathname(parsed.path)).resolve()
    return path if path.is_relative_to(Path(folder).resolve()) and path.is_file() else None


def local_url_fetcher(folder):
    """A WeasyPrint URL fetcher that serves only files inside `folder` and refuses any
    other URL (http, data, /etc/passwd): WeasyPrint then warns and leaves the resource out."""
    from weasyprint.urls import URLFetcher

    class ReportFilesOnly(URLFetcher):
        def fetch(self, url, headers=None):
            path = report_file_path(url, folder)
            if path is None:
                raise ValueError(f"not a file of the report folder {folder}: {redact_url(url)}")
            return super().fetch(path.as_uri(), headers)

    return ReportFilesOnly()


def write_pdf(html, destination):
    import weasyprint

    folder = Path(destination).resolve().parent
    document = weasyprint.HTML(
        string=html, base_url=str(folder), url_fetcher=local_url_fetcher(folder)
    )
    with atomic_path(destination) as tmp:
        document.write_pdf(tmp)


def baseline_of(paths, folder):
    """(ModelResults, folder) of the baseline run, or None when there is none."""
    if not folder:
        return None
    if not paths:
        raise ValueError(f"report.baseline: no metrics files under {folder}/metrics")
    return recorded_results([read_metrics_file(p) for p in paths]), str(folder)


def build_context(inputs, params):
    """The template's context, less the figure paths (they differ per document)."""
    results = model_results([read_json(p) for p in inputs.metrics], params.models)
    original = yaml.safe_load(Path(inputs.original).read_text(encoding="utf-8"))
    spreads = yaml.safe_load(Path(inputs.measured_spread).read_text(encoding="utf-8"))
    measurements = check_measurements(spreads, inputs.measured_spread)
    benchmarks = benchmark_summary([*inputs.benchmarks, inputs.plots_benchmark])
    facts = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(REPOSITORY),
        "config_hash": config_hash(params.study),
    }
    data = data_summary(results, read_json(inputs.data_provenance))
    baseline = baseline_of(list(inputs.baseline), params.baseline)
    # Disabled models are named in a visible note, so a reader knows what is left out.
    context = report_context(results, original, benchmarks, facts, data, baseline, measurements)
    curve = curve_section(getattr(inputs, "table", None), getattr(inputs, "gaps", None))
    return {**context, "left_out": params.left_out, "curve": curve}


def render(inputs, params, outputs):
    """Write the HTML (SVG figures) and PDF (PNG figures) report; returns its context."""
    template = template_from(inputs.template)
    stylesheet = Path(inputs.stylesheet).read_text(encoding="utf-8")
    context = build_context(inputs, params)

    def page(document, image_format):
        images = image_paths(inputs.plots, document, image_format)
        images |= curve_images(inputs, document, image_format)
        return template.render(**context, images=images, stylesheet=stylesheet)

    write_text_atomic(outputs.html, page(outputs.html, "svg"))
    write_pdf(page(outputs.pdf, "png"), outputs.pdf)
    return context
