"""Which optional parts of llid are installed, and the one-line error that names the extra adding one.

`pip install 'llid[onnx]'` enhances with every shipped model through ONNX Runtime and no torch;
training, export, LPIPS and running weights without shipped graphs need torch (`llid[cpu]`, or
`llid[gpu]` on an NVIDIA machine). Commands check here first, so a missing package is a clear
`Error: ... needs torch: pip install 'llid[cpu]'`, never an ImportError traceback.
"""

from __future__ import annotations

import importlib.util

from llid_cli.core.errors import NotAvailableError

# The extra that brings each optional module.
_EXTRA = {"torch": "cpu", "onnx": "cpu", "onnxruntime": "onnx", "av": "video"}


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def install_hint(extra: str) -> str:
    """How to add an extra, from a package index and from a checkout of llid."""
    return f"pip install 'llid[{extra}]' (in a checkout of llid: pip install '.[{extra}]')"


def require(module: str, purpose: str) -> None:
    """Raise `NotAvailableError` unless `module` is installed: '`purpose` needs `module`: pip install ...'."""
    if not installed(module):
        raise NotAvailableError(f"{purpose} needs {module}: {install_hint(_EXTRA.get(module, 'cpu'))}")
