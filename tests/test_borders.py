"""The photo's outermost pixels are enhanced like the rest (zero padding had darkened them)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage

from llid_cli.cli import cli
from llid_cli.io import read_image


def smooth_night_sky(height: int = 120, width: int = 168) -> np.ndarray:
    rng = np.random.default_rng(4)
    rows, cols = np.mgrid[:height, :width]
    sky = np.stack([14 + 6 * cols / width, 16 + 5 * rows / height, 24 + 0 * cols], axis=-1)
    return np.clip(np.rint(sky + rng.normal(0, 1.0, sky.shape)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("model", ["lynx", "lynx-fast"])
def test_the_outermost_rows_and_columns_are_not_darkened(tmp_path, model, backend):
    PILImage.fromarray(smooth_night_sky()).save(tmp_path / "sky.png")
    result = CliRunner().invoke(cli, ["enhance", str(tmp_path / "sky.png"), "-o", str(tmp_path / "out.png"),
                                      "--model", model, "--backend", backend])
    assert result.exit_code == 0, result.output
    out = read_image(tmp_path / "out.png").pixels.astype(np.float64)
    assert out.mean() > 40  # brightened
    steps = [out[1] - out[0], out[-2] - out[-1], out[:, 1] - out[:, 0], out[:, -2] - out[:, -1]]
    assert max(abs(float(step.mean())) for step in steps) < 2.0  # an edge one level off at most, as inside
