"""Reading and writing photos faithfully: bit depth, alpha, orientation, EXIF, ICC, XMP."""

from llid_cli.io.formats import READ_FORMATS, WRITE_FORMATS, is_readable_name
from llid_cli.io.image import Image
from llid_cli.io.read import DEFAULT_MAX_PIXELS, header_megapixels, read_image
from llid_cli.io.write import WriteOptions, write_image

__all__ = [
    "DEFAULT_MAX_PIXELS", "READ_FORMATS", "WRITE_FORMATS", "Image", "WriteOptions",
    "header_megapixels", "is_readable_name", "read_image", "write_image",
]
