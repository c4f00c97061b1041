"""How a model will run, decided once before anything loads: `plan(settings, model, machine, workload)`.

A pure function of plain values, so every rule is a row of a table test that needs no torch
(tests/test_plan.py). The runner then opens the model the way the plan says (its shipped graphs
alone, or its network) and builds the runtime it names.

The rules, each measured:
- `--backend auto` on a GPU, or in fp16/bf16, runs PyTorch (ONNX Runtime's CUDA path is not
  verified here); without onnxruntime, PyTorch; without torch, ONNX Runtime.
- On a CPU `auto` takes the model's faster CPU runtime (`ModelDescriptor.cpu_backend`,
  benchmarks/engine_speed.py), but a job of at most `GRAPHS_UP_TO_MEGAPIXELS` runs the shipped
  graphs without importing torch even where PyTorch is faster: starting torch and building the
  network costs more than it saves on a small job (benchmarks/startup.py).
- Shipped graphs serve only the weights they were made from, in fp32; other weights run on ONNX
  Runtime through an export made once into the user cache (needs torch and onnx).
- A control the shipped graphs cannot render but the network can be given (a noise filter for
  lynx-fast) needs the network.
"""

from __future__ import annotations

from dataclasses import dataclass

GRAPHS_UP_TO_MEGAPIXELS = 16.0


@dataclass(frozen=True)
class RunSettings:
    """How to run, as asked (`--backend`, `--device`, `--precision`); never changes the pixels' meaning."""

    backend: str = "torch"  # torch | onnx | auto
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "fp32"  # fp32 | fp16 | bf16


@dataclass(frozen=True)
class ModelFacts:
    """What is known of a model before it loads: from its shipped graphs' description."""

    graphs: bool  # shipped graphs made from exactly these weights
    cpu_backend: str  # its faster runtime on a CPU
    graphs_cannot_render: bool = False  # a control asked for needs the network (a filter added)


@dataclass(frozen=True)
class Machine:
    torch: bool
    onnxruntime: bool
    onnx: bool
    gpu_possible: bool  # device files of a GPU driver (asked without importing torch)
    cuda: bool  # PyTorch sees a CUDA device (only asked where one is possible)


@dataclass(frozen=True)
class Plan:
    source: str  # "graphs": the shipped graphs alone (no torch); "network": built from the weights
    runtime: str  # "torch" or "onnx"
    graphs: str | None  # for ONNX Runtime: "shipped", or "export" (made once into the user cache)
    device: str
    precision: str


def plan(settings: RunSettings, model: ModelFacts, machine: Machine, workload_megapixels: float | None) -> Plan:
    source = _source(settings, model, machine, workload_megapixels)
    if source == "graphs" and model.graphs_cannot_render:
        source = "network"  # without torch, opening it says that torch is needed and why
    runtime = _runtime(settings, model, machine, source)
    graphs = None
    if runtime == "onnx":
        graphs = "shipped" if model.graphs and settings.precision == "fp32" and not model.graphs_cannot_render \
            else "export"
    return Plan(source, runtime, graphs, settings.device, settings.precision)


def _source(settings: RunSettings, model: ModelFacts, machine: Machine, workload: float | None) -> str:
    network_if_torch = "network" if machine.torch else "graphs"
    if settings.precision != "fp32" or settings.backend not in ("onnx", "auto"):
        return network_if_torch
    if settings.backend == "onnx":
        return "graphs" if model.graphs or not machine.torch else "network"
    if settings.device == "cuda" or (settings.device == "auto" and machine.gpu_possible):
        return network_if_torch
    if not model.graphs:
        return network_if_torch
    small = workload is not None and workload <= GRAPHS_UP_TO_MEGAPIXELS
    if model.cpu_backend != "onnx" and not small and machine.torch:
        return "network"  # a large job: the network runs it faster than the graphs
    return "graphs"


def _runtime(settings: RunSettings, model: ModelFacts, machine: Machine, source: str) -> str:
    if settings.backend != "auto":
        return settings.backend
    if source == "graphs":
        return "onnx"
    on_gpu = settings.device == "cuda" or (settings.device == "auto" and machine.cuda)
    if on_gpu or settings.precision != "fp32" or not machine.onnxruntime:
        return "torch"
    if not (model.graphs and not model.graphs_cannot_render) and not machine.onnx:
        return "torch"
    return model.cpu_backend
