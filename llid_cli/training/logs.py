"""Training logs: JSON lines, CSV, TensorBoard (when installed) and a PNG plot."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

_CSV_FIELDS = ["step", "kind", "loss", "lr", "it_per_s", "val_psnr", "val_ssim", "seconds"]


class RunLog:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.jsonl = run_dir / "metrics.jsonl"
        self.csv = run_dir / "metrics.csv"
        if not self.csv.exists():
            with self.csv.open("w", newline="") as handle:
                csv.writer(handle).writerow(_CSV_FIELDS)
        self.tensorboard = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(run_dir / "tensorboard"))
        except Exception:  # tensorboard is optional
            self.tensorboard = None

    def write(self, record: dict) -> None:
        with self.jsonl.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        with self.csv.open("a", newline="") as handle:
            csv.writer(handle).writerow([record.get(k, "") for k in _CSV_FIELDS])
        if self.tensorboard is not None:
            for key in ("loss", "lr", "val_psnr", "val_ssim"):
                if key in record:
                    self.tensorboard.add_scalar(key, record[key], record["step"])

    def records(self) -> list[dict]:
        if not self.jsonl.exists():
            return []
        return [json.loads(line) for line in self.jsonl.read_text().splitlines() if line.strip()]

    def truncate_after(self, step: int) -> None:
        """On resume, drop what a stopped run logged past its last checkpoint."""
        kept = [r for r in self.records() if r["step"] <= step]
        self.jsonl.write_text("".join(json.dumps(r) + "\n" for r in kept))
        with self.csv.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(_CSV_FIELDS)
            for r in kept:
                writer.writerow([r.get(k, "") for k in _CSV_FIELDS])

    def plot(self) -> Path:
        path = self.run_dir / "plot.png"
        records = self.records()
        train = [(r["step"], r["loss"]) for r in records if r["kind"] == "train"]
        val = [(r["step"], r["val_psnr"]) for r in records if r["kind"] == "val"]
        import cv2

        canvas = np.full((360, 960, 3), 255, np.uint8)
        _panel(canvas, 0, train, "training loss (log)", log=True, colour=(200, 80, 30))
        _panel(canvas, 480, val, "validation PSNR (dB)", log=False, colour=(30, 140, 30))
        cv2.imwrite(str(path), canvas)
        return path


def _panel(canvas, x0: int, points, title: str, log: bool, colour) -> None:
    import cv2

    left, top, width, height = x0 + 60, 30, 400, 290
    cv2.rectangle(canvas, (left, top), (left + width, top + height), (0, 0, 0), 1)
    cv2.putText(canvas, title, (left, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    if len(points) < 1:
        return
    steps = np.array([p[0] for p in points], np.float64)
    values = np.array([p[1] for p in points], np.float64)
    if log:
        values = np.log10(np.maximum(values, 1e-8))
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    s_lo, s_hi = float(steps.min()), float(max(steps.max(), steps.min() + 1))
    xs = left + (steps - s_lo) / (s_hi - s_lo) * width
    ys = top + height - (values - lo) / (hi - lo) * height
    pts = np.stack([xs, ys], 1).round().astype(np.int32)
    cv2.polylines(canvas, [pts], False, colour, 1, cv2.LINE_AA)
    for value, y in ((hi, top), (lo, top + height)):
        label = f"{10**value:.3g}" if log else f"{value:.2f}"
        cv2.putText(canvas, label, (x0 + 2, int(y) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for step, x in ((s_lo, left), (s_hi, left + width)):
        cv2.putText(canvas, f"{int(step)}", (int(x) - 10, top + height + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
