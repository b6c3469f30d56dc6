"""Where the data came from, what the runs ran on, and how long the study took.

The download writes a small provenance JSON beside the archive (the URL it was
actually fetched from, its md5 and size); the report reads it with the metrics'
`data` records, so the data's source is shown without making the URL a parameter.
"""

import os

import pandas as pd

from cifar_compare.data.download import OFFICIAL_CIFAR10_MD5
from cifar_compare.messages import redact_url
from cifar_compare.report import format as fmt


def data_summary(results, download):
    """The run's data provenance and, unless it is the official archive, a warning."""
    records = [record for result in results for record in result.records]
    md5s = sorted({(r.get("data") or {}).get("archive_md5") or "" for r in records})
    official = md5s == [OFFICIAL_CIFAR10_MD5]
    summary = {
        "archive_md5": ", ".join(m or "not recorded" for m in md5s),
        "official": official,
        "official_md5": OFFICIAL_CIFAR10_MD5,
        "url": redact_url((download or {}).get("url", "not recorded")),
        "bytes": (download or {}).get("bytes"),
    }
    warning = (
        f"The CIFAR-10 archive of this run (md5 {summary['archive_md5']}) is not the "
        f"official archive (md5 {OFFICIAL_CIFAR10_MD5}): its accuracies cannot be "
        "compared with published CIFAR-10 results."
    )
    return {**summary, "warning": None if official else warning}


def benchmark_summary(paths):
    """Per-job rows (a job is named by its file's path under their root) and the study's time.

    total: the sum of every job's wall time. span: from the start of the first job
    to the end of the last (a file's mtime is its job's end; minus its seconds, its
    start); None when the mtimes cannot be right (files copied, say).
    """
    root = os.path.commonpath([os.path.dirname(p) for p in paths])
    rows, runs, total = [], [], 0.0  # runs: (start, end) per job
    for path in paths:
        frame = pd.read_csv(path, sep="\t")
        rss = pd.to_numeric(frame["max_rss"], errors="coerce").max()
        job = os.path.splitext(os.path.relpath(path, root))[0]
        rows.append(
            {
                "job": job,
                "seconds": fmt.seconds(frame["s"].mean()),
                "max_rss_mb": fmt.megabytes(None if pd.isna(rss) else rss),
            }
        )
        seconds, end = float(frame["s"].sum()), os.path.getmtime(path)
        total += seconds
        runs.append((end - seconds, end))
    span = max(end for _, end in runs) - min(start for start, _ in runs)
    longest = max(end - start for start, end in runs)
    span = fmt.seconds(span) if span >= longest else None
    return {"rows": rows, "time": {"span": span, "total": fmt.seconds(total)}}
