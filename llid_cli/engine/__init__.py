"""Running models on photos: backends (PyTorch, ONNX Runtime), tiling, export.

Imports are lazy: `from llid_cli.engine.runner import build_model_runner`.
"""
