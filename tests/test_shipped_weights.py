"""Every weights file shipped in weights/ loads, says how it was made, and enhances a photo."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import gradient_rgb

from llid_cli.models import all_specs
from llid_cli.models.locations import weights_dir
from llid_cli.models.weights import load_model

SHIPPED = sorted(weights_dir().glob("*.safetensors"))


def shipping(path):
    """The one zoo model whose `--model NAME` finds this file."""
    [spec] = [s for s in all_specs() if s.weights == path.name]
    return spec


def test_shipped_files_stay_small():
    for path in SHIPPED:
        assert path.stat().st_size <= 20 * 2**20, path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_weights_are_trained_and_documented(path):
    model, info = load_model(path)
    assert shipping(path).architecture == info.architecture
    meta = info.metadata
    assert meta["training_config"]["model"]["type"] == info.architecture  # came out of `llid train`
    assert meta["steps"] > 0 and meta["hardware"] and meta["commit"]
    assert np.isfinite(meta["validation"]["psnr"]) and 0 < meta["validation"]["ssim"] <= 1


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_weights_brighten_a_dark_photo(path):
    from llid_cli.io import Image
    from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline

    dark = Image(pixels=gradient_rgb(96, 128, seed=3, dark=0.1))
    out = Pipeline(EnhanceOptions(model=shipping(path).name)).enhance_image(dark)
    assert out.pixels.shape == dark.pixels.shape
    assert out.pixels.mean() > 2 * dark.pixels.mean()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_weights_ship_onnx_graphs_made_from_them(path):
    """What a torch-free install runs: graphs that read these very weights and render what the
    network renders (scripts/ship_graphs.py writes them again after new weights)."""
    from dataclasses import replace

    import onnx

    from llid_cli.engine.loaded import open_network
    from llid_cli.engine.plan import Plan
    from llid_cli.engine.runner import EngineOptions, ModelRunner
    from llid_cli.models.controls import Controls
    from llid_cli.models.graphs import made_from

    loaded = open_network(shipping(path).name)
    graphs = loaded.graphs
    assert graphs is not None and made_from(graphs, path, loaded.info.file_sha256), "run scripts/ship_graphs.py"
    # The description is the network's descriptor (plus the activation memory measured for it).
    assert replace(graphs.descriptor, bytes_per_pixel=0.0) == loaded.descriptor, "run scripts/ship_graphs.py"
    assert set(graphs.graphs) == ({"capture", "replay"} if loaded.descriptor.global_stats else {"plain"})
    for graph in graphs.graphs.values():  # the weights stay in the weights file, not copied into graphs
        proto = onnx.load(str(graph), load_external_data=False)
        embedded = [t.name for t in proto.graph.initializer
                    if t.data_location != onnx.TensorProto.EXTERNAL and len(t.raw_data) > 4096]
        assert embedded == [], graph
    pixels = gradient_rgb(97, 131, seed=5, dark=0.2)
    pixels[20:50, 30:90] = np.linspace(150, 235, 60, dtype=np.uint8)[None, :, None]  # a lit wall: lynx's shoulder works
    controls = Controls(exposure=0.7 if loaded.descriptor.renders("exposure") else None)
    outputs = [ModelRunner(loaded, Plan("network", backend, "shipped", "cpu", "fp32"),
                           EngineOptions(tile=tile, overlap=16))(pixels, controls)
               for backend, tile in (("torch", 0), ("onnx", 0), ("onnx", 64))]
    assert np.abs(outputs[0].astype(int) - outputs[1].astype(int)).max() <= 1
    mse = ((outputs[0].astype(float) - outputs[2].astype(float)) ** 2).mean()
    assert 10 * np.log10(255**2 / max(mse, 1e-12)) >= 45  # tiled through capture/replay
