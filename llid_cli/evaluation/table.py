"""The metric columns of a report and how each value is printed, shared by every report format
(report.py writes JSON/CSV/Markdown and calls html.py; both read these, neither reads the other)."""

from __future__ import annotations

from llid_cli.evaluation.scoring import CaseResult


def columns(results: list[CaseResult]) -> list[str]:
    seen: list[str] = []
    for result in results:
        for name in result.metrics:
            if name not in seen:
                seen.append(name)
    return seen


def fmt(name: str, value: float | None) -> str:
    if value is None:
        return ""
    if name == "psnr":
        return f"{value:.2f}"
    return f"{value:.4f}"
