"""`llid models pull` against a loopback stand-in for the Hugging Face Hub (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from llid_cli.cli import cli
from llid_cli.io import read_image
from llid_cli.models import get_spec
from llid_cli.models.weights import save_weights

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A minimal hub: HEAD/GET /{repo}/resolve/{revision}/{file} with the headers the client reads."""
    files: dict[str, bytes] = {}
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, body: bool):
            requests.append(f"{self.command} {self.path}")
            parts = self.path.split("/resolve/")
            key = None
            if len(parts) == 2:
                repo, rest = parts[0].lstrip("/"), parts[1]
                revision, _, name = rest.partition("/")
                key = f"{repo}/{name}"
            data = files.get(key)
            if data is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            digest = hashlib.sha256(data).hexdigest()
            self.send_response(200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{digest}"')
            self.send_header("X-Linked-Etag", f'"{digest}"')
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_HEAD(self):  # noqa: N802
            self._answer(False)

        def do_GET(self):  # noqa: N802
            self._answer(True)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("LLID_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    # An installation without shipped weights: a shipped file would take precedence over a pulled one.
    (tmp_path / "no-shipped").mkdir()
    monkeypatch.setattr("llid_cli.models.locations.weights_dir", lambda: tmp_path / "no-shipped")
    yield files, requests
    server.shutdown()


def _weights_bytes(tmp_path, name="resse") -> bytes:
    torch.manual_seed(0)
    spec = get_spec(name)
    path = tmp_path / "w.safetensors"
    save_weights(spec.build("tiny"), path, name, spec.presets["tiny"])
    return path.read_bytes()


def test_pull_downloads_verifies_and_is_used_by_enhance(tmp_path, hub):
    files, requests = hub
    data = _weights_bytes(tmp_path)
    files["someone/llid-weights/resse.safetensors"] = data
    result = CliRunner().invoke(cli, ["models", "pull", "resse", "--repo", "someone/llid-weights", "--revision", "v1"])
    assert result.exit_code == 0, result.output
    target = tmp_path / "cache" / "weights" / "resse.safetensors"
    assert target.read_bytes() == data
    assert any(r.startswith("GET /someone/llid-weights/resse/v1/") or "resolve/v1" in r for r in requests)

    from llid_cli.models.locations import default_weights_path

    assert default_weights_path("resse") == target
    from conftest import gradient_rgb, write_jpeg

    photo = write_jpeg(tmp_path / "dark.jpg", gradient_rgb(40, 50, dark=0.2))
    requests.clear()
    result = CliRunner().invoke(cli, ["enhance", str(photo), "-o", str(tmp_path / "o.png"), "--model", "resse"])
    assert result.exit_code == 0, result.output
    assert requests == []  # enhancing never touches the network
    # Its graphs were written beside it, so ONNX Runtime runs them without exporting anything.
    described = json.loads((tmp_path / "cache" / "weights" / "resse.graphs.json").read_text())
    assert described["weights_sha256"] == hashlib.sha256(data).hexdigest()
    result = CliRunner().invoke(cli, ["enhance", str(photo), "-o", str(tmp_path / "onnx.png"), "--model", "resse",
                                      "--backend", "onnx"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "cache" / "onnx").exists()
    torch_out, onnx_out = (read_image(tmp_path / name).pixels.astype(int) for name in ("o.png", "onnx.png"))
    assert np.abs(torch_out - onnx_out).max() <= 1


def test_pull_refuses_a_file_that_does_not_match_its_sha256(tmp_path, hub):
    files, _ = hub
    files["llid/weights/resse.safetensors"] = _weights_bytes(tmp_path)
    result = CliRunner().invoke(cli, ["models", "pull", "resse", "--sha256", "ab" * 32])
    assert result.exit_code == 1 and "sha256 mismatch" in result.output
    assert not (tmp_path / "cache" / "weights" / "resse.safetensors").exists()


def test_pull_refuses_weights_of_another_architecture(tmp_path, hub):
    files, _ = hub
    files["llid/weights/unet.safetensors"] = _weights_bytes(tmp_path, "resse")
    result = CliRunner().invoke(cli, ["models", "pull", "unet"])
    assert result.exit_code == 1 and "'resse' weights, not 'unet'" in result.output


def test_pull_of_a_variant_takes_its_architectures_weights(tmp_path, hub):
    files, _ = hub
    files["llid/weights/resse-night.safetensors"] = _weights_bytes(tmp_path, "resse")
    result = CliRunner().invoke(cli, ["models", "pull", "resse-night"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cache" / "weights" / "resse-night.safetensors").exists()
    files["someone/unets/resse-night.safetensors"] = _weights_bytes(tmp_path, "unet")
    result = CliRunner().invoke(cli, ["models", "pull", "resse-night", "--repo", "someone/unets"])
    assert result.exit_code == 1 and "'unet' weights, not 'resse'" in result.output


def test_pull_from_an_unreachable_hub_is_one_line(tmp_path, hub, monkeypatch):
    import socket

    with socket.socket() as probe:  # a loopback port that nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    result = CliRunner().invoke(cli, ["models", "pull", "resse"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach the hub for llid/weights@main/resse.safetensors")
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "cache" / "weights" / "resse.safetensors").exists()


def test_pull_of_a_missing_file_is_a_clear_error(hub):
    result = CliRunner().invoke(cli, ["models", "pull", "mirnet", "--repo", "nobody/nothing"])
    assert result.exit_code == 1 and "cannot download nobody/nothing@main/mirnet.safetensors" in result.output
    result = CliRunner().invoke(cli, ["models", "pull", "clahe"])
    assert result.exit_code == 1 and "no weights to download" in result.output
