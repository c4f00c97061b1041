"""Image quality metrics against references, on 8-bit RGB."""

from llid_cli.metrics.fidelity import level_error, mae, psnr, ssim, to_uint8

__all__ = ["level_error", "mae", "psnr", "ssim", "to_uint8"]
