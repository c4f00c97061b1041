"""Training throughput (samples/s) of every committed config's model, on the CPU and on CUDA if present.

    python benchmarks/train_speed.py [--threads N] [--steps N] [--configs lynx,resse]

Random tensors of each config's patch and batch size go through forward, the configured losses,
backward and an optimiser step; the first steps (warm-up) are not timed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from llid_cli.models import get_spec
from llid_cli.models.layers.blocks import exposure_of
from llid_cli.training.config import load_config
from llid_cli.training.losses import CompositeLoss

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


def measure(path: Path, device: str, steps: int) -> tuple[str, int, int, float]:
    config = load_config(path)
    spec = get_spec(config.model.type)
    model = spec.build(config.model.preset, **config.model.args).to(device).train()
    loss = CompositeLoss(config.loss).to(device)
    for adversary in loss.adversaries:
        adversary.build_optimizer()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b, p = config.data.batch_size, config.data.patch_size
    low, ref = torch.rand(b, 3, p, p, device=device) * 0.3, torch.rand(b, 3, p, p, device=device)
    # An exposure-conditioned network (lynx) is told its reference's exposure while training, and
    # its exposure loss reads the head's estimate, as in the training loop.
    told = (exposure_of(ref),) if "exposure" in model.controls else ()

    def step():
        pred = model(low, exposure=told[0]) if told else model(low)
        total, _ = loss(pred, ref, model.predicted_exposure, *told)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        for adversary in loss.adversaries:
            adversary.discriminator_step(pred.detach(), ref)

    for _ in range(2):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    params = sum(q.numel() for q in model.parameters())
    return config.model.type, params, p, b * steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--configs", default="", help="comma-separated config names (default: all committed)")
    args = parser.parse_args()
    configs = CONFIGS
    if args.configs:
        by_name = {path.stem: path for path in CONFIGS}
        unknown = [name for name in args.configs.split(",") if name not in by_name]
        if unknown:
            parser.error(f"no committed config {', '.join(unknown)} (those: {', '.join(by_name)})")
        configs = [by_name[name] for name in args.configs.split(",")]
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"{'config':<22} {'model':<10} {'params':>9} {'patch':>5} {'device':>6} {'samples/s':>10}")
    for device in devices:
        for path in configs:
            name, params, patch, rate = measure(path, device, args.steps)
            print(f"{path.stem:<22} {name:<10} {params / 1e6:>8.2f}M {patch:>5} {device:>6} {rate:>10.2f}")


if __name__ == "__main__":
    main()
