"""Training pairs: real manifest pairs (SICE layout), folder pairs (LOL layout), synthetic pairs.

Every training sample is a pure function of (seed, sample index): which source, which pair,
where to crop, how to flip and rotate, and the synthetic degradation all come from
`numpy.random.default_rng([seed, index])`. A resumed run therefore sees exactly the samples the
uninterrupted run would have seen, with no data-loader state to save, and any number of worker
processes gives the same batches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from llid_cli.core.errors import ConfigError
from llid_cli.io import is_readable_name, read_image
from llid_cli.io.image import from_float, to_float
from llid_cli.training.config import SourceConfig
from llid_cli.training.synthetic import LowLightSettings, degrade

Pre = Callable[[np.ndarray], np.ndarray] | None


class ImageStore:
    """Decodes images as float32 RGB; with `cache`, each file is decoded once and kept (as uint8)."""

    def __init__(self, cache: bool):
        self.cache = cache
        self._images: dict[tuple[str, bool], np.ndarray] = {}

    def get(self, path: Path, pre: Pre = None) -> np.ndarray:
        key = (str(path), pre is not None)
        if key in self._images:
            return to_float(self._images[key])
        rgb = read_image(path).to_float_rgb()
        if pre is not None:
            rgb = pre(rgb)
        if self.cache:
            self._images[key] = from_float(rgb, np.uint8)
        return rgb


@dataclass
class PairList:
    """Paired (low, reference) files."""

    name: str
    pairs: list[tuple[Path, Path]]

    def __len__(self) -> int:
        return len(self.pairs)


def _excluded(name: str, patterns: list[str] | tuple[str, ...]) -> bool:
    from fnmatch import fnmatchcase

    return any(fnmatchcase(name, pattern) for pattern in patterns)


def manifest_pairs(root: str | Path, exclude: list[str] | tuple[str, ...] = ()) -> PairList:
    root = Path(root)
    manifest = root / "manifest.json"
    if not manifest.is_file():
        raise ConfigError("no manifest.json here (expected the sice layout: see its README)", root)
    pairs = []
    for scene in json.loads(manifest.read_text()):
        if _excluded(scene["scene"], exclude):
            continue
        folder = root / scene["scene"]
        for low in scene["low"]:
            pairs.append((folder / low["file"], folder / scene["ref"]))
    return PairList(f"manifest:{root}", pairs)


def folder_pairs(root: str | Path, low_dir: str = "low", high_dir: str = "high",
                 exclude: list[str] | tuple[str, ...] = ()) -> PairList:
    root = Path(root)
    low, high = root / low_dir, root / high_dir
    if not low.is_dir() or not high.is_dir():
        raise ConfigError(f"expected '{low_dir}/' and '{high_dir}/' folders (LOL layout)", root)
    highs = {p.stem: p for p in high.iterdir() if is_readable_name(p)}
    pairs = [(p, highs[p.stem]) for p in sorted(low.iterdir())
             if is_readable_name(p) and p.stem in highs and not _excluded(p.name, exclude)]
    if not pairs:
        raise ConfigError(f"no files in '{low_dir}/' have a match by name in '{high_dir}/'", root)
    return PairList(f"folder:{root}", pairs)


def clean_images(root: str | Path, exclude: list[str] | tuple[str, ...] = ()) -> list[Path]:
    root = Path(root)
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and is_readable_name(p) and not _excluded(p.relative_to(root).as_posix(), exclude))
    if not files:
        raise ConfigError("no clean images found for synthetic pairs", root)
    return files


def source_pairs(source: SourceConfig) -> PairList:
    if source.type == "manifest":
        pairs = manifest_pairs(source.root, source.exclude)
    elif source.type == "folder":
        pairs = folder_pairs(source.root, source.low_dir, source.high_dir, source.exclude)
    else:
        raise ConfigError(f"'{source.type}' sources have no fixed pairs")
    if source.max_items:
        pairs.pairs = pairs.pairs[: source.max_items]
    return pairs


def _crop(images: list[np.ndarray], patch: int, rng: np.random.Generator) -> list[np.ndarray]:
    height, width = images[0].shape[:2]
    if height < patch or width < patch:
        pad = ((0, max(0, patch - height)), (0, max(0, patch - width)), (0, 0))
        images = [np.pad(im, pad, mode="reflect") for im in images]
        height, width = images[0].shape[:2]
    top = int(rng.integers(0, height - patch + 1))
    left = int(rng.integers(0, width - patch + 1))
    return [im[top : top + patch, left : left + patch] for im in images]


def _rescale(images: list[np.ndarray], patch: int, scale: tuple[float, float], rng: np.random.Generator) -> list[np.ndarray]:
    """Shrink every image by one factor drawn log-uniformly from `scale` (area-averaged)."""
    import cv2

    height, width = images[0].shape[:2]
    low = max(scale[0], min(1.0, patch / min(height, width)))
    high = max(low, scale[1])
    factor = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    size = (max(patch, round(width * factor)), max(patch, round(height * factor)))
    if size == (width, height):
        return images
    return [cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in images]


def _augment(images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    k = int(rng.integers(0, 4))
    flip = bool(rng.integers(0, 2))
    out = []
    for im in images:
        im = np.rot90(im, k)
        if flip:
            im = im[:, ::-1]
        out.append(np.ascontiguousarray(im))
    return out


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))


class TrainPairs(torch.utils.data.Dataset):
    """Index k -> (low, reference) patches as 3 x P x P tensors, deterministic in (seed, k)."""

    def __init__(self, sources: list[SourceConfig], patch: int, seed: int, store: ImageStore, pre: Pre = None,
                 scale: tuple[float, float] = (1.0, 1.0)):
        self.patch, self.seed, self.store, self.pre = patch, seed, store, pre
        self.scale = (float(scale[0]), float(scale[1]))
        self.sources: list[tuple[str, object]] = []
        weights = []
        for source in sources:
            if source.weight == 0:
                continue
            if source.type == "synthetic":
                files = clean_images(source.root, source.exclude)
                if source.max_items:
                    files = files[: source.max_items]
                settings = _degradation(source.degradation)
                self.sources.append(("synthetic", (files, settings)))
            else:
                self.sources.append(("pairs", source_pairs(source)))
            weights.append(source.weight)
        self.weights = np.asarray(weights, dtype=np.float64) / np.sum(weights)

    def describe(self) -> list[dict]:
        out = []
        for (kind, data), weight in zip(self.sources, self.weights):
            if kind == "pairs":
                out.append({"source": data.name, "pairs": len(data), "weight": round(float(weight), 4)})
            else:
                out.append({"source": f"synthetic:{len(data[0])} clean images", "weight": round(float(weight), 4)})
        return out

    def preload(self) -> None:
        """Decode everything now (before worker processes fork, so they share the cache)."""
        for kind, data in self.sources:
            if kind == "pairs":
                for low, ref in data.pairs:
                    self.store.get(low, self.pre)
                    self.store.get(ref)
            else:
                for path in data[0]:
                    self.store.get(path)

    def _rescaled(self, images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        if self.scale == (1.0, 1.0):
            return images  # no draw: runs without rescaling keep their exact sample stream
        return _rescale(images, self.patch, self.scale, rng)

    def __len__(self) -> int:
        return 2**62  # a stream: the sampler decides which indices are drawn

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, int(index)])
        kind, data = self.sources[int(rng.choice(len(self.sources), p=self.weights))]
        if kind == "pairs":
            low_path, ref_path = data.pairs[int(rng.integers(len(data)))]
            pair = [self.store.get(low_path, self.pre), self.store.get(ref_path)]
            low, ref = _crop(self._rescaled(pair, rng), self.patch, rng)
        else:
            files, settings = data
            # Rescaled before degrading, so the noise keeps its per-pixel statistics at every scale.
            clean = [self.store.get(files[int(rng.integers(len(files)))])]
            (ref,) = _crop(self._rescaled(clean, rng), self.patch, rng)
            low = degrade(ref, rng, settings)
            if self.pre is not None:
                low = self.pre(low)
        low, ref = _augment([low, ref], rng)
        return _to_tensor(low), _to_tensor(ref)


class StepSampler(torch.utils.data.Sampler):
    """Sample indices for steps [start, stop): step s uses indices s*B .. s*B + B - 1 of the global
    batch B; of several processes, process r takes its contiguous share s*B + r*B/W .. + B/W - 1."""

    def __init__(self, start_step: int, stop_step: int, batch_size: int, rank: int = 0, world: int = 1):
        self.start, self.stop, self.batch = start_step, stop_step, batch_size
        self.share = batch_size // world
        self.first = rank * self.share

    def __iter__(self):
        for step in range(self.start, self.stop):
            begin = step * self.batch + self.first
            yield from range(begin, begin + self.share)

    def __len__(self) -> int:
        return max(0, self.stop - self.start) * self.share


def _degradation(raw: dict) -> LowLightSettings:
    try:
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return LowLightSettings(**fields)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad synthetic degradation settings: {exc}") from exc


def validation_images(source: SourceConfig, store: ImageStore, pre: Pre, max_images: int = 0):
    """[(name, low, reference)] full images for validation, from fixed pairs only."""
    pairs = source_pairs(source)
    chosen = pairs.pairs
    if max_images and len(chosen) > max_images:
        # An even spread over the set, always the same images.
        chosen = [chosen[i] for i in np.linspace(0, len(chosen) - 1, max_images).round().astype(int)]
    return [(low.parent.name + "/" + low.name, store.get(low, pre), store.get(ref)) for low, ref in chosen]
