"""The ONNX export cache stays bounded: least recently used exports go, the ones in use stay."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from test_engine import photo, tiny_weights

from llid_cli.engine.runner import EngineOptions, build_model_runner
from llid_cli.export.cache import limit_bytes, prune

DAY = 86400.0


def stale_file(folder, name: str, size: int, age_days: float):
    path = folder / name
    path.write_bytes(b"\0" * size)
    old = time.time() - age_days * DAY
    os.utime(path, (old, old))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLID_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "onnx"
    folder.mkdir(parents=True)
    return folder


def test_a_new_export_evicts_the_least_recently_used_beyond_the_limit(tmp_path, cache, monkeypatch):
    oldest = stale_file(cache, "old-a.onnx", 400_000, age_days=30)
    older = stale_file(cache, "old-b.onnx", 400_000, age_days=20)
    recent = stale_file(cache, "old-c.onnx", 400_000, age_days=1)
    monkeypatch.setenv("LLID_ONNX_CACHE_MB", str(1.0))  # room for two of the stale files, not three plus the export
    weights = tiny_weights(tmp_path, "resse")
    out = build_model_runner("resse", weights, EngineOptions(backend="onnx", tile=1024))(photo(40, 56))
    assert out.shape == (40, 56, 3)
    exports = [p for p in cache.glob("*.onnx") if not p.name.startswith("old-")]
    assert exports, "the new export is kept"
    assert not oldest.exists(), "the least recently used file goes first"
    assert older.exists() and recent.exists(), "only as much goes as the limit needs"
    assert sum(p.stat().st_size for p in cache.glob("*.onnx")) <= limit_bytes()


def test_a_cache_hit_refreshes_the_export_and_is_not_exported_again(tmp_path, cache):
    weights = tiny_weights(tmp_path, "resse")
    run = lambda: build_model_runner("resse", weights, EngineOptions(backend="onnx", tile=1024))(photo(40, 56))  # noqa: E731
    first = run()
    exports = sorted(cache.glob("*.onnx"))
    old = time.time() - 10 * DAY
    for export in exports:
        os.utime(export, (old, old))
    inodes = [export.stat().st_ino for export in exports]
    second = run()
    assert np.array_equal(first, second)
    assert sorted(cache.glob("*.onnx")) == exports
    assert [export.stat().st_ino for export in exports] == inodes, "the cached exports were reused, not written again"
    assert all(time.time() - export.stat().st_mtime < 60 for export in exports), "a hit marks an export as recently used"


def test_prune_keeps_files_in_use_and_recent_ones_whatever_the_limit(tmp_path):
    folder = tmp_path / "onnx"
    folder.mkdir()
    kept = stale_file(folder, "kept.onnx", 1000, age_days=40)
    just_used = stale_file(folder, "just-used.onnx", 1000, age_days=0)
    old = stale_file(folder, "old.onnx", 1000, age_days=5)
    other = folder / "notes.txt"
    other.write_text("not an export")
    removed = prune(folder, limit=0, keep={kept})
    assert removed == [old]
    assert kept.exists() and just_used.exists() and other.exists()


def test_prune_removes_oldest_first_and_stops_at_the_limit(tmp_path):
    folder = tmp_path / "onnx"
    folder.mkdir()
    files = [stale_file(folder, f"{age}.onnx", 1000, age_days=age) for age in (3, 9, 6, 12)]
    removed = prune(folder, limit=2000)
    assert removed == [files[3], files[1]]  # 12 and 9 days old
    assert prune(folder, limit=2000) == []


def test_the_limit_reads_the_environment_and_survives_a_bad_value(monkeypatch):
    monkeypatch.setenv("LLID_ONNX_CACHE_MB", "2")
    assert limit_bytes() == 2 * 1024 * 1024
    monkeypatch.setenv("LLID_ONNX_CACHE_MB", "lots")
    assert limit_bytes() == 512 * 1024 * 1024
