"""Make the example photo `examples/dark-kodim23.jpg` from Kodak's kodim23 (free to use).

The Kodak PhotoCD suite was released by Eastman Kodak for unrestricted use. The dark version is
made with llid's own physically based low-light degradation, with a fixed seed, so anyone with the
Kodak photo can regenerate the same file:

    python examples/make_example.py path/to/kodim23.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from llid_cli.io import Image, WriteOptions, read_image, write_image
from llid_cli.training.synthetic import LowLightSettings, degrade


def main(source: str, target: str = str(Path(__file__).with_name("dark-kodim23.jpg"))) -> None:
    clean = read_image(source).to_float_rgb()
    settings = LowLightSettings(
        exposure=(0.06, 0.06), wb_drift=0.0, photons_at_white=(800.0, 800.0),
        read_noise=(0.002, 0.002), jpeg_probability=0.0,
    )
    dark = degrade(clean, np.random.default_rng(23), settings)
    write_image(Image(pixels=np.rint(dark * 255).astype(np.uint8)), target, WriteOptions(quality=95))


if __name__ == "__main__":
    main(*sys.argv[1:])
