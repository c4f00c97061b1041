"""Image quality metrics against references, on 8-bit RGB."""

from llid_cli.metrics.fidelity import mae, psnr, ssim, to_uint8

__all__ = ["mae", "psnr", "ssim", "to_uint8"]
