"""`llid batch --ray`: against a real Ray cluster (a head and a worker node on 127.0.0.1) started
here, the same outputs, byte for byte, and the same report as the local batch; a killed worker
and an interrupted driver lose nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import gradient_rgb, write_jpeg

pytestmark = pytest.mark.slow  # Slow tier: a real Ray cluster started on 127.0.0.1.

pytest.importorskip("ray")

TEMP = ".llid-tmp"
RECORD = ".llid-batch.json"  # what the batch was made with (llid_cli/rendering/made_with.py), not an output


def _llid(*args, env=None, **kwargs) -> subprocess.Popen:
    # SIGINT at its default, as a terminal's Ctrl-C finds it (a shell without job control ignores it).
    return subprocess.Popen([sys.executable, "-m", "llid_cli", *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _run(*args, env=None, timeout=300) -> tuple[int, str]:
    proc = _llid(*args, env=env)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def _photos(folder: Path, count: int, size=(96, 128), broken: bool = True) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        write_jpeg(folder / f"p{i:02d}.jpg", gradient_rgb(*size, seed=i, dark=0.2))
    if broken:
        (folder / "empty.jpg").write_bytes(b"")
        (folder / "notes.png").write_text("not a photo\n")
        half = (folder / "p00.jpg").read_bytes()
        (folder / "truncated.jpg").write_bytes(half[: len(half) // 3])
    return folder


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != RECORD} if folder.exists() else {}


def _comparable(report: Path) -> dict:
    """The report without what depends on the clock or on where it ran."""
    summary = json.loads(report.read_text())
    for key in ("seconds", "output"):
        summary.pop(key)
    files = []
    for entry in summary.pop("files"):
        entry.pop("seconds")
        entry["output"] = entry["output"] and Path(entry["output"]).name
        files.append(entry)
    return {**summary, "files": files}


def test_ray_batch_matches_the_local_batch_byte_for_byte(tmp_path, cluster):
    address, env = cluster
    src = _photos(tmp_path / "in", 6)
    code, err = _run("batch", src, "-o", tmp_path / "local", "--threads", "1", "--report", tmp_path / "local.json")
    assert code == 1, err  # broken files fail the batch, here as there
    code, err = _run("batch", src, "-o", tmp_path / "ray", "--ray", address, "--workers", "2",
                     "--report", tmp_path / "ray.json", env=env)
    assert code == 1, err
    assert "Ray: 2 worker(s)" in err and "Traceback" not in err, err
    local, distributed = _outputs(tmp_path / "local"), _outputs(tmp_path / "ray")
    assert len(local) == 6 and local == distributed
    assert _comparable(tmp_path / "local.json") == _comparable(tmp_path / "ray.json")
    failed = [f for f in json.loads((tmp_path / "ray.json").read_text())["files"] if f["status"] == "failed"]
    assert sorted(Path(f["input"]).name for f in failed) == ["empty.jpg", "notes.png", "truncated.jpg"]
    assert all(f["error"] for f in failed)
    assert err.count("empty.jpg") == 1  # each failure reported once

    # A re-run resumes: everything there is skipped, nothing rewritten.
    code, err = _run("batch", src, "-o", tmp_path / "ray", "--ray", address, "--workers", "1", "--json", env=env)
    assert code == 1 and "0 enhanced, 6 skipped" in err, err
    assert _outputs(tmp_path / "ray") == local


def _worker_pids() -> list[int]:
    """Processes of llid's Ray actors (Ray titles them ray::EnhanceWorker...)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::EnhanceWorker"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def _wait_for_an_output(out: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and any(not p.name.startswith(".") for p in out.iterdir()):
            return
        time.sleep(0.02)
    raise AssertionError(f"no output appeared (exit {proc.poll()})")


def test_a_killed_worker_costs_only_the_files_it_held(tmp_path, cluster):
    address, env = cluster
    src = _photos(tmp_path / "in", 24, size=(240, 320), broken=False)
    assert _run("batch", src, "-o", tmp_path / "local", "--threads", "1")[0] == 0
    out = tmp_path / "ray"
    proc = _llid("batch", src, "-o", out, "--ray", address, "--workers", "2", "--report", tmp_path / "r.json",
                 env=env)
    _wait_for_an_output(out, proc)
    victims = _worker_pids()
    assert victims, "no Ray worker process found"
    os.kill(victims[0], signal.SIGKILL)
    at_kill = len(_outputs(out))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert at_kill < 24  # the kill came while files were still to do
    assert _outputs(out) == _outputs(tmp_path / "local")  # nothing lost, nothing half-written
    assert not [p for p in out.iterdir() if p.name.endswith(TEMP)]
    report = json.loads((tmp_path / "r.json").read_text())
    assert [f["status"] for f in report["files"]] == ["done"] * 24  # each file once
    # ... with its size, also where a worker wrote it and died before answering (read off the output)
    assert {f["megapixels"] for f in report["files"]} == {0.077}


@pytest.mark.parametrize("signum, code, said", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_an_interrupted_driver_leaves_no_partial_file_and_a_rerun_resumes(tmp_path, cluster, signum, code, said):
    """Ctrl-C or SIGTERM (ray.init had replaced the CLI's SIGTERM handler: exit 15, a stack dump
    and no report) exits 130 or 143 with one line and the report of what finished."""
    address, env = cluster
    src = _photos(tmp_path / "in", 24, size=(240, 320), broken=False)
    assert _run("batch", src, "-o", tmp_path / "local", "--threads", "1")[0] == 0
    reference = _outputs(tmp_path / "local")
    out = tmp_path / "ray"
    proc = _llid("batch", src, "-o", out, "--ray", address, "--workers", "2", "--report", tmp_path / "r.json", env=env)
    _wait_for_an_output(out, proc)
    proc.send_signal(getattr(signal, signum))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == code, err
    assert "Traceback" not in err and f"llid: {said}" in err, err
    assert json.loads((tmp_path / "r.json").read_text())["interrupted"] is True
    kept = _outputs(out)
    assert 0 < len(kept) < 24 and all(reference[name] == data for name, data in kept.items())
    assert not [name for name in kept if name.endswith(TEMP)]
    code, err = _run("batch", src, "-o", out, "--ray", address, "--workers", "2", env=env)
    assert code == 0 and f"{len(kept)} skipped" in err, err
    assert _outputs(out) == reference


def test_ray_without_an_address_starts_a_local_instance(tmp_path):
    src = _photos(tmp_path / "in", 3, broken=False)
    assert _run("batch", src, "-o", tmp_path / "local", "--threads", "1")[0] == 0
    code, err = _run("batch", src, "-o", tmp_path / "ray", "--ray", "--workers", "1")
    assert code == 0 and "Ray: 1 worker(s) on a local instance" in err, err
    assert _outputs(tmp_path / "ray") == _outputs(tmp_path / "local")


def test_ray_options_are_checked_before_any_work(tmp_path, cluster):
    address, env = cluster
    src = _photos(tmp_path / "in", 1, broken=False)
    code, err = _run("batch", src, "-o", tmp_path / "o", "--workers", "2")
    assert code == 2 and "--ray" in err
    code, err = _run("batch", src, "-o", tmp_path / "o", "--ray", address, "--gpus-per-worker", "1", env=env)
    assert code == 1 and "GPU" in err and "Traceback" not in err, err
    code, err = _run("batch", src, "-o", tmp_path / "o", "--ray", address, "--workers", "5", env=env)
    assert code == 1 and "room for 2" in err, err
    assert not (tmp_path / "o").exists()
