"""The execution plan as a table: every rule of `--backend auto` and of where a model comes from,
decided from plain values before anything loads (no torch, no model, no photo)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llid_cli.engine.plan import (
    GRAPHS_UP_TO_MEGAPIXELS,
    Machine,
    ModelFacts,
    Plan,
    RunSettings,
    plan,
)

CPU = Machine(torch=True, onnxruntime=True, onnx=True, gpu_possible=False, cuda=False)
GPU = Machine(torch=True, onnxruntime=True, onnx=True, gpu_possible=True, cuda=True)
NO_TORCH = Machine(torch=False, onnxruntime=True, onnx=False, gpu_possible=False, cuda=False)
NO_ORT = Machine(torch=True, onnxruntime=False, onnx=True, gpu_possible=False, cuda=False)
NO_ONNX = Machine(torch=True, onnxruntime=True, onnx=False, gpu_possible=False, cuda=False)
LYNX = ModelFacts(graphs=True, cpu_backend="torch")  # network faster on a CPU, graphs shipped
RESSE = ModelFacts(graphs=True, cpu_backend="onnx")  # graphs faster
OWN = ModelFacts(graphs=False, cpu_backend="torch")  # the user's weights: nothing shipped for them
FAST_FILTER = ModelFacts(graphs=True, cpu_backend="torch", graphs_cannot_render=True)  # lynx-fast --denoise
SMALL, LARGE = 0.3, GRAPHS_UP_TO_MEGAPIXELS + 1

# (settings, model, machine, workload) -> (source, runtime, graphs)
TABLE = [
    # auto on a CPU: a small job from the graphs without torch; a large one on the faster runtime
    (RunSettings("auto"), LYNX, CPU, SMALL, ("graphs", "onnx", "shipped")),
    (RunSettings("auto"), LYNX, CPU, None, ("network", "torch", None)),  # size unknown: the faster
    (RunSettings("auto"), LYNX, CPU, LARGE, ("network", "torch", None)),
    (RunSettings("auto"), RESSE, CPU, LARGE, ("graphs", "onnx", "shipped")),
    (RunSettings("auto"), RESSE, CPU, SMALL, ("graphs", "onnx", "shipped")),
    # other weights: the network, on its faster runtime through an export (which needs onnx)
    (RunSettings("auto"), OWN, CPU, SMALL, ("network", "torch", None)),
    (RunSettings("auto"), ModelFacts(False, "onnx"), CPU, SMALL, ("network", "onnx", "export")),
    (RunSettings("auto"), ModelFacts(False, "onnx"), NO_ONNX, SMALL, ("network", "torch", None)),
    # a GPU, or a possible one: torch decides, on CUDA
    (RunSettings("auto"), RESSE, GPU, SMALL, ("network", "torch", None)),
    (RunSettings("auto", device="cpu"), RESSE, GPU, SMALL, ("graphs", "onnx", "shipped")),
    # half precision: PyTorch
    (RunSettings("auto", precision="bf16"), RESSE, CPU, SMALL, ("network", "torch", None)),
    (RunSettings("onnx", precision="fp16"), RESSE, CPU, SMALL, ("network", "onnx", "export")),
    # what is installed
    (RunSettings("auto"), RESSE, NO_ORT, LARGE, ("graphs", "onnx", "shipped")),  # opening says what is missing
    (RunSettings("auto"), OWN, NO_ORT, SMALL, ("network", "torch", None)),
    (RunSettings("auto"), LYNX, NO_TORCH, LARGE, ("graphs", "onnx", "shipped")),
    (RunSettings("torch"), LYNX, NO_TORCH, SMALL, ("graphs", "torch", None)),  # opening says torch is needed
    # explicit runtimes
    (RunSettings("torch"), LYNX, CPU, SMALL, ("network", "torch", None)),
    (RunSettings("onnx"), LYNX, CPU, LARGE, ("graphs", "onnx", "shipped")),
    (RunSettings("onnx"), OWN, CPU, SMALL, ("network", "onnx", "export")),
    # a control the shipped graphs cannot render: the network, given it
    (RunSettings("auto"), FAST_FILTER, CPU, SMALL, ("network", "torch", None)),
    (RunSettings("onnx"), FAST_FILTER, CPU, SMALL, ("network", "onnx", "export")),
    (RunSettings("auto"), FAST_FILTER, NO_TORCH, SMALL, ("network", "torch", None)),  # torch needed: said on opening
]


@pytest.mark.parametrize("settings, model, machine, workload, expected", TABLE)
def test_the_plan(settings, model, machine, workload, expected):
    chosen = plan(settings, model, machine, workload)
    assert (chosen.source, chosen.runtime, chosen.graphs) == expected
    assert (chosen.device, chosen.precision) == (settings.device, settings.precision)


def test_planning_imports_neither_torch_nor_a_model():
    script = ("import sys\nfrom llid_cli.engine.plan import plan, RunSettings, ModelFacts, Machine\n"
              "plan(RunSettings('auto'), ModelFacts(True, 'torch'), Machine(True, True, True, False, False), 1.0)\n"
              "print(sorted(m for m in sys.modules if m.startswith(('torch', 'llid_cli.models', 'onnx'))))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_plan_is_a_value():
    assert plan(RunSettings("auto"), LYNX, CPU, SMALL) == Plan("graphs", "onnx", "shipped", "auto", "fp32")
