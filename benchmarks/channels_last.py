"""Does channels-last (NHWC) help on this CPU? Inference time per model, NCHW vs NHWC.

    python benchmarks/channels_last.py [--size 512] [--threads N] [--repeat 3]

Models run with their default preset and seeded random weights (speed does not depend on values).
"""

from __future__ import annotations

import argparse
import time

import torch

from llid_cli.models import all_specs


def timed(model, x, repeat: int) -> float:
    with torch.inference_mode():
        model(x)
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{args.size}x{args.size}, {torch.get_num_threads()} threads; best of {args.repeat}")
    print(f"{'model':<10} {'NCHW s':>8} {'NHWC s':>8} {'speed-up':>9}")
    for spec in all_specs():
        if not spec.learned:
            continue
        torch.manual_seed(0)
        model = spec.build().eval()
        x = torch.rand(1, 3, args.size, args.size)
        nchw = timed(model, x, args.repeat)
        nhwc = timed(model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last), args.repeat)
        print(f"{spec.name:<10} {nchw:>8.3f} {nhwc:>8.3f} {nchw / nhwc:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
