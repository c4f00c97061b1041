"""Fixtures: every test makes its own small images."""

from __future__ import annotations

import io
import os
import secrets
import socket
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest


def learned_architectures() -> list[str]:
    """Every registered network, once: variants (other weights of one of them) are left out."""
    from llid_cli.models import all_specs

    return [spec.name for spec in all_specs() if spec.learned and not spec.variant_of]


def gradient_rgb(height: int = 48, width: int = 64, dtype=np.uint8, seed: int = 0, dark: float = 1.0) -> np.ndarray:
    """A smooth colourful image with a little noise; `dark` < 1 scales it down."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), 0.5 + 0.5 * np.sin((x + y) / 7.0)], axis=2)
    base = np.clip(base * dark + rng.normal(0, 0.01, base.shape), 0, 1)
    top = 65535 if dtype == np.uint16 else 255
    return np.rint(base * top).astype(dtype)


def fake_icc() -> bytes:
    """Bytes standing in for an ICC profile: the writers must carry them verbatim."""
    return b"\x00\x00\x02\x0clcms\x02\x10\x00\x00mntrRGB XYZ " + bytes(range(256)) * 2


def png_with_huge_header(width: int = 100_000, height: int = 100_000) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def write_jpeg(path: Path, rgb: np.ndarray, quality: int = 95, exif: bytes | None = None) -> Path:
    from PIL import Image

    kwargs = {"quality": quality}
    if exif:
        kwargs["exif"] = exif
    Image.fromarray(rgb).save(path, "JPEG", **kwargs)
    return path


def exif_block(seconds=None, f_number=None, iso=None) -> bytes:
    """An EXIF block with the exposure settings given (shutter seconds, f-number, ISO)."""
    from PIL import Image

    block = Image.Exif()
    tags = block.get_ifd(0x8769)
    for tag, value in ((0x829A, seconds), (0x829D, f_number), (0x8827, iso)):
        if value is not None:
            tags[tag] = value
    return block.tobytes()


NIGHT_EXIF = exif_block(0.25, 2.8, 800)  # EV100 2: a street at night, metered
DAYLIGHT_EXIF = exif_block(1 / 500, 8.0, 100)  # EV100 15: sunlight


@pytest.fixture(scope="session", autouse=True)
def own_user_cache(tmp_path_factory):
    """The whole run, subprocesses included, uses a cache of its own: tests export random-weight
    networks by the hundred, and these would pile up in the developer's ~/.cache/llid. Tests that
    look into the cache set LLID_CACHE_DIR to a folder of their own on top of this."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LLID_CACHE_DIR", str(tmp_path_factory.mktemp("llid-cache")))
        yield


@pytest.fixture
def dark_jpeg(tmp_path: Path) -> Path:
    return write_jpeg(tmp_path / "dark.jpg", gradient_rgb(60, 80, dark=0.15, seed=1))


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """One file per failure mode; the key says which."""
    folder = tmp_path / "bad"
    folder.mkdir()
    good = io.BytesIO()
    from PIL import Image

    Image.fromarray(gradient_rgb(40, 40)).save(good, "JPEG", quality=90)
    files = {
        "empty": folder / "empty.jpg",
        "truncated": folder / "truncated.jpg",
        "text": folder / "notes.jpg",
        "huge": folder / "huge.png",
        "unsupported": folder / "drawing.xyz",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    files["text"].write_text("this is not a photo\n")
    files["huge"].write_bytes(png_with_huge_header())
    files["unsupported"].write_bytes(b"\x00" * 100)
    return files


@pytest.fixture
def tiny_datasets(tmp_path: Path) -> dict[str, Path]:
    """A SICE-layout manifest set, a LOL-layout folder set and a clean folder, all tiny."""
    import json

    from llid_cli.io import Image, write_image
    from llid_cli.training.synthetic import LowLightSettings, degrade

    rng = np.random.default_rng(0)
    settings = LowLightSettings(jpeg_probability=0.0)
    roots = {"manifest": tmp_path / "sice", "folder": tmp_path / "lol", "clean": tmp_path / "clean"}
    scenes = []
    for i in range(3):
        ref = gradient_rgb(40, 48, seed=10 + i)
        folder = roots["manifest"] / f"scene{i}"
        write_image(Image(pixels=ref), folder / "ref.png")
        lows = []
        for j in range(2):
            dark = np.rint(degrade(ref.astype(np.float32) / 255, rng, settings) * 255).astype(np.uint8)
            write_image(Image(pixels=dark), folder / f"low_{j}.png")
            write_image(Image(pixels=dark), roots["folder"] / "low" / f"s{i}_{j}.png")
            write_image(Image(pixels=ref), roots["folder"] / "high" / f"s{i}_{j}.png")
            lows.append({"file": f"low_{j}.png", "mean_luma": float(dark.mean() / 255)})
        scenes.append({"scene": f"scene{i}", "ref": "ref.png", "low": lows})
        write_image(Image(pixels=gradient_rgb(50, 60, seed=20 + i)), roots["clean"] / f"c{i}.png")
    (roots["manifest"] / "manifest.json").write_text(json.dumps(scenes))
    return roots


_RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def cluster():
    """A real Ray cluster on 127.0.0.1: a head node and one worker node, one CPU each, with Ray's
    token authentication on; (address, environment for the CLI's processes)."""
    pytest.importorskip("ray")
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--num-cpus=1", "--disable-usage-stats"]
    try:
        subprocess.run([_RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                        "--include-dashboard=false", *common], env=env, check=True, capture_output=True, timeout=180)
        subprocess.run([_RAY, "start", f"--address=127.0.0.1:{port}", *common], env=env, check=True,
                       capture_output=True, timeout=180)
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([_RAY, "stop", "--force"], env=env, capture_output=True, timeout=180)
