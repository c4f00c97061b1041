"""The weights format: safetensors plus metadata, never pickle.

A weights file is self-describing: its metadata names the architecture and its constructor
arguments, so `load_model(path)` rebuilds the network without any other input. Metadata also
records how the weights were made (training config, data, metrics, commit) and a sha256 of the
tensor contents, checked on every load so that a corrupted or edited file is refused.

Weights may be stored as fp16 (half the size); they are always loaded as fp32. Denormal fp32
values are flushed to zero on save and on load: on CPUs, arithmetic on denormals can slow a
network down many times over.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llid_cli.core.errors import ModelError

if TYPE_CHECKING:  # torch is imported where tensors are made: reading a header needs no torch
    import torch

FORMAT_VERSION = "1"
_FP32_TINY = 1.1754943508222875e-38  # torch.finfo(torch.float32).tiny
_MAX_HEADER = 100 << 20  # safetensors' own bound on its JSON header


@dataclass
class WeightsInfo:
    architecture: str
    arch_args: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)  # training, data, metrics, commit, ...
    content_sha256: str = ""
    file_sha256: str = ""
    path: str = ""


def flush_denormals(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    import torch

    out = {}
    for name, tensor in state.items():
        if tensor.is_floating_point():
            tensor = torch.where(tensor.abs() < _FP32_TINY, torch.zeros_like(tensor), tensor)
        out[name] = tensor
    return out


def content_hash(state: dict[str, torch.Tensor]) -> str:
    import torch

    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous().reshape(-1)  # a 0-d tensor has no byte view
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(state[name].shape)).encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_header(path: str | os.PathLike) -> tuple[dict[str, str], dict[str, tuple[str, tuple[int, ...], int, int]]]:
    """A safetensors file's metadata, and name -> (dtype, shape, absolute byte offset, byte length)
    of each tensor, from its header alone: no torch, sizes bounded before anything is allocated."""
    path = Path(path)
    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ModelError("not a safetensors file (shorter than its header size)", path)
            (length,) = struct.unpack("<Q", prefix)
            if length > min(_MAX_HEADER, size - 8):
                raise ModelError(f"not a safetensors file (a header of {length} bytes does not fit it)", path)
            header = json.loads(handle.read(length))
        start, layout = 8 + length, {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            begin, end = (int(v) for v in entry["data_offsets"])
            if not 0 <= begin <= end <= size - start:
                raise ModelError(f"tensor {name} lies outside the file", path)
            layout[name] = (str(entry["dtype"]), tuple(int(d) for d in entry["shape"]), start + begin, end - begin)
        return dict(header.get("__metadata__") or {}), layout
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"not a safetensors file ({exc})", path) from exc


def read_info(path: str | os.PathLike) -> WeightsInfo:
    """A weights file's description (architecture, arguments, metadata, file sha256) without torch.

    The tensors are not read, so their recorded checksum is not verified here: `read_weights` does
    that; a torch-free run checks the file's sha256 against its graphs' description instead."""
    header, _ = read_header(path)
    return _info(header, Path(path), file_sha256(path))


def save_weights(model: torch.nn.Module, path: str | os.PathLike, architecture: str, arch_args: dict[str, Any],
                 metadata: dict[str, Any] | None = None, fp16: bool = False) -> WeightsInfo:
    """Write `model`'s state to a safetensors file (atomically) with self-describing metadata."""
    from safetensors.torch import save

    from llid_cli.io.atomic import atomic_write_bytes

    state = flush_denormals({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    if fp16:
        state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    info = WeightsInfo(architecture, dict(arch_args), dict(metadata or {}), content_hash(state))
    header = {
        "llid_format": FORMAT_VERSION,
        "architecture": architecture,
        "arch_args": json.dumps(_jsonable(arch_args), sort_keys=True),
        "metadata": json.dumps(_jsonable(info.metadata), sort_keys=True),
        "content_sha256": info.content_sha256,
    }
    atomic_write_bytes(path, save(state, metadata=header))
    info.path = str(path)
    info.file_sha256 = file_sha256(path)
    return info


def read_weights(path: str | os.PathLike, expected_sha256: str | None = None) -> tuple[dict[str, torch.Tensor], WeightsInfo]:
    """Tensors (fp32, denormals flushed) and metadata of a weights file, verified."""
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelError("weights file not found", path)
    actual_file_hash = file_sha256(path)
    if expected_sha256 and actual_file_hash != expected_sha256.lower():
        raise ModelError(f"sha256 mismatch: expected {expected_sha256}, got {actual_file_hash} (corrupt or wrong download)", path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            state = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"not a safetensors weights file ({exc}); llid never loads pickled checkpoints", path) from exc
    info = _info(header, path, actual_file_hash)  # refuses files without llid's metadata
    if content_hash(state) != info.content_sha256:
        raise ModelError("checksum mismatch: the tensors do not match the sha256 recorded in the file", path)
    state = flush_denormals({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    return state, info


def _info(header: dict[str, str], path: Path, sha256: str) -> WeightsInfo:
    if header.get("llid_format") != FORMAT_VERSION or "architecture" not in header:
        raise ModelError("safetensors file without llid metadata (architecture and arguments unknown)", path)
    try:
        return WeightsInfo(
            architecture=header["architecture"], arch_args=json.loads(header.get("arch_args", "{}")),
            metadata=json.loads(header.get("metadata", "{}")), content_sha256=header.get("content_sha256", ""),
            file_sha256=sha256, path=str(path),
        )
    except json.JSONDecodeError as exc:
        raise ModelError(f"unreadable metadata ({exc})", path) from exc


def load_model(path: str | os.PathLike, expected_sha256: str | None = None, architecture: str | None = None,
               arguments: dict[str, Any] | None = None, rendering: dict[str, Any] | None = None):
    """Rebuild the network a weights file describes, load its tensors, and put it in eval mode.
    `arguments`: constructor arguments used where the file records none (a variant's own).
    `rendering`: constructor arguments used instead of the file's, only among the architecture's
    `rendering_arguments` (no weight depends on those: lynx-fast's filter, added at run time)."""
    from llid_cli.models.registry import get_spec

    state, info = read_weights(path, expected_sha256)
    if architecture is not None and info.architecture != architecture:
        raise ModelError(f"these are '{info.architecture}' weights, not '{architecture}'", path)
    spec = get_spec(info.architecture)
    try:
        model = spec.construct({**(arguments or {}), **info.arch_args, **(rendering or {})})
    except ModelError as exc:
        raise ModelError(f"weights metadata: {exc}", path) from exc
    unknown = set(rendering or {}) - set(model.rendering_arguments)
    if unknown:
        raise ModelError(f"'{info.architecture}' cannot be rendered with other {', '.join(sorted(unknown))}", path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelError(f"weights do not fit the '{info.architecture}' architecture ({first})", path) from exc
    return model.eval(), info


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
