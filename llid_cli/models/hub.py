"""Downloading weights from a Hugging Face Hub repository into llid's user cache.

Only `llid models pull` touches the network; enhancing never does. Every download is checked
against an expected sha256 before it is used: the one llid knows for a published file
(`PUBLISHED_SHA256`), else the one given with --sha256, else the hub's own LFS sha256 of the file.
A file that cannot be verified, or does not match, is deleted and refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from llid_cli.core.errors import ModelError
from llid_cli.io.atomic import atomic_write_bytes
from llid_cli.models.locations import hub_cache_dir, pulled_dir
from llid_cli.models.weights import file_sha256, read_weights

DEFAULT_REPO = "llid/weights"
# file name -> sha256 of the weights files llid has published; filled in when they are.
PUBLISHED_SHA256: dict[str, str] = {}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def pull(name: str, repo: str | None = None, revision: str = "main", sha256: str | None = None) -> Path:
    """Download `name`'s weights file, verify it, and place it in the user cache."""
    from llid_cli.models.registry import get_spec

    spec = get_spec(name)
    if not spec.learned or not spec.weights:
        raise ModelError(f"'{name}' has no weights to download")
    try:
        from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
        from huggingface_hub.errors import HfHubHTTPError
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelError("downloading needs huggingface-hub") from exc

    repo = repo or os.environ.get("LLID_HUB_REPO", DEFAULT_REPO)
    endpoint = os.environ.get("HF_ENDPOINT")  # read now: huggingface_hub reads it only at import
    where = f"{repo}@{revision}/{spec.weights}"
    try:
        metadata = get_hf_file_metadata(hf_hub_url(repo, spec.weights, revision=revision, endpoint=endpoint))
        expected = (sha256 or PUBLISHED_SHA256.get(spec.weights) or _lfs_sha256(metadata.etag) or "").lower()
        if not _SHA256.match(expected):
            raise ModelError(f"cannot verify {where}: the hub gives no sha256 for it; pass --sha256 HEX")
        downloaded = Path(hf_hub_download(repo, spec.weights, revision=revision, endpoint=endpoint,
                                          cache_dir=str(hub_cache_dir())))
    except HfHubHTTPError as exc:
        raise ModelError(f"cannot download {where}: {str(exc).splitlines()[0]}") from exc
    except (OSError, *_client_errors()) as exc:
        raise ModelError(f"cannot reach the hub for {where}: {exc}") from exc
    actual = file_sha256(downloaded)
    if actual != expected:
        _forget(downloaded)
        raise ModelError(f"sha256 mismatch for {where}: expected {expected}, got {actual}; the download was deleted")
    _, info = read_weights(downloaded)
    if info.architecture != spec.architecture:
        raise ModelError(f"{where} holds '{info.architecture}' weights, not '{spec.architecture}'")
    target = pulled_dir() / spec.weights
    atomic_write_bytes(target, downloaded.read_bytes())  # weights files are at most tens of MB
    return target


def _client_errors() -> tuple[type[Exception], ...]:
    """The network errors of the HTTP client huggingface-hub uses, which depends on its version.

    requests' errors are OSErrors; httpx's and httpx2's (huggingface-hub 1.x and 2.x) are not, and
    an unreachable endpoint would otherwise end `llid models pull` in a traceback.
    """
    import importlib

    found = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _lfs_sha256(etag: str | None) -> str | None:
    """For LFS files the hub's etag is the content's sha256; for small files it is a git hash."""
    value = (etag or "").strip('"').lower()
    return value if _SHA256.match(value) else None


def _forget(path: Path) -> None:
    """Delete a bad download, and the blob behind a cache symlink."""
    try:
        real = path.resolve()
        path.unlink(missing_ok=True)
        real.unlink(missing_ok=True)
    except OSError:
        pass
