"""Evaluation reports: .json, .csv, .md and .html (see html.py), chosen by the file's extension."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from llid_cli.core.errors import LlidError
from llid_cli.evaluation.scoring import CaseResult
from llid_cli.evaluation.table import columns, fmt
from llid_cli.io.atomic import atomic_write_bytes

FORMATS = (".json", ".csv", ".md", ".html")


def write_report(path: Path, payload: dict, results: list[CaseResult]) -> Path:
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = json.dumps(payload, indent=2).encode()
    elif suffix == ".csv":
        data = _csv(results, payload)
    elif suffix == ".md":
        data = _markdown(results, payload)
    elif suffix == ".html":
        from llid_cli.evaluation.html import render_html

        data = render_html(results, payload).encode()
    else:
        raise LlidError(f"unknown report format '{suffix}' (use {', '.join(FORMATS)})", path)
    atomic_write_bytes(path, data)
    return path


def _csv(results: list[CaseResult], payload: dict) -> bytes:
    names = columns(results)
    gt = [f"{n}_gtmean" for n in names] if payload.get("gt_mean_summary") else []
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", *names, *gt, "error"])
    for r in results:
        writer.writerow([r.name, *[r.metrics.get(n, "") for n in names], *[r.gt_mean.get(n, "") for n in names if gt],
                         r.error or ""])
    return buffer.getvalue().encode()


def _markdown(results: list[CaseResult], payload: dict) -> bytes:
    names = columns(results)
    lines = [f"# llid eval: {payload.get('title', '')}", ""]
    if payload.get("lpips") == "unavailable":
        lines += ["LPIPS: unavailable (its weights are not on this machine).", ""]
    lines += ["| image | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for r in results:
        if r.error is None:
            lines.append(f"| {r.name} | " + " | ".join(fmt(n, r.metrics.get(n)) for n in names) + " |")
    for label in ("mean", "median"):
        row = payload["summary"].get(label, {})
        lines.append(f"| **{label}** | " + " | ".join(fmt(n, row.get(n)) for n in names) + " |")
    if payload.get("gt_mean_summary"):
        lines += ["", "## After GT-mean scaling (the output's mean set to the reference's; not comparable with the plain figures)", "",
                  "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for label in ("mean", "median"):
            row = payload["gt_mean_summary"].get(label, {})
            lines.append(f"| **{label}** | " + " | ".join(fmt(n, row.get(n)) for n in names) + " |")
    failed = [r for r in results if r.error]
    if failed:
        lines += ["", f"## {len(failed)} failed", ""] + [f"- {r.error}" for r in failed]
    return ("\n".join(lines) + "\n").encode()
