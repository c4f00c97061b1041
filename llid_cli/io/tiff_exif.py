"""EXIF in a TIFF: what a TIFF records about its photo, read as an EXIF block and written back.

Why: a TIFF holds EXIF as directories of its own (its first directory's descriptive tags, and EXIF
and GPS directories it points to), not as the block JPEG, PNG and WebP carry; tifffile, which
reads and writes llid's TIFF pixels (16-bit, float), writes neither pointer. Without this a
photographer's TIFF lost its camera, date, exposure settings and GPS on the way through llid.
Pillow parses and serializes the directories; only the pointers are patched here.
"""

from __future__ import annotations

import struct

from llid_cli.io.metadata import EXIF_IFD

GPS_IFD = 0x8825
INTEROP_IFD = 0xA005  # a pointer inside the EXIF directory: left out when a directory is moved
# A TIFF's first directory mixes the image's structure with what describes the photo: these are
# the latter (Make, Model, DateTime, Artist, Copyright), carried between TIFF and EXIF blocks.
DESCRIPTIVE_TAGS = (0x010F, 0x0110, 0x0132, 0x013B, 0x8298)


def exif_of_tiff(pil_image) -> bytes | None:
    """An EXIF block (as Pillow writes one for a JPEG) of what a TIFF opened with Pillow records
    about its photo: the descriptive tags of its first directory and its EXIF and GPS directories;
    None if it records none. Its structure tags (size, strips, compression) are not the output's."""
    import warnings

    from PIL import Image as PILImage

    try:
        with warnings.catch_warnings():  # Pillow warns of a corrupt directory: None says it all
            warnings.simplefilter("ignore")
            source = pil_image.getexif()
            exif_tags, gps_tags = source.get_ifd(EXIF_IFD), source.get_ifd(GPS_IFD)
        block = PILImage.Exif()
        for tag in DESCRIPTIVE_TAGS:
            if tag in source:
                block[tag] = source[tag]
        directories = {EXIF_IFD: _movable(exif_tags), GPS_IFD: _movable(gps_tags)}
        if not len(block) and not any(directories.values()):
            return None
        for pointer, tags in directories.items():
            if tags:
                block.get_ifd(pointer).update(tags)
        return block.tobytes()
    except Exception:  # a malformed directory costs the metadata, never the photo
        return None


# Placeholder tags written in place of the EXIF and GPS pointers, which tifffile will not write;
# each sorts where its pointer does, so the directory stays in tag order once they are renamed.
_PLACEHOLDERS = {EXIF_IFD: EXIF_IFD - 1, GPS_IFD: GPS_IFD - 1}


def tiff_tags_for(exif: bytes | None) -> tuple[list[tuple], dict[int, dict]]:
    """What of an EXIF block a TIFF writer (tifffile) can carry: the descriptive tags as its
    `extratags` (with placeholders for the sub-directories), and the EXIF and GPS directories,
    to be appended by `attach_directories`."""
    if not exif:
        return [], {}
    from PIL import Image as PILImage

    try:
        block = PILImage.Exif()
        block.load(exif)
        extratags = [(tag, "s", 0, str(block[tag]), False) for tag in DESCRIPTIVE_TAGS
                     if isinstance(block.get(tag), str) and block[tag].isascii()]
        directories = {}
        for pointer in (EXIF_IFD, GPS_IFD):
            tags = _movable(block.get_ifd(pointer))
            if tags and _directory(tags, 0) is not None:  # one that cannot be written is left out
                directories[pointer] = tags
                extratags.append((_PLACEHOLDERS[pointer], "I", 1, (0,), False))
    except Exception:
        return [], {}
    return extratags, directories


def _movable(directory: dict) -> dict:
    """A directory's tags less the pointers into the file it came from (Interoperability)."""
    return {tag: value for tag, value in directory.items() if tag != INTEROP_IFD}


def _directory(tags: dict, start: int) -> bytes | None:
    """`tags` as a TIFF directory (little-endian) placed at byte `start`, or None if Pillow cannot
    write one of them."""
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    try:
        directory = ImageFileDirectory_v2()
        for tag, value in tags.items():
            directory[tag] = value
        return directory.tobytes(start)
    except Exception:
        return None


def attach_directories(tiff: bytes, directories: dict[int, dict]) -> bytes:
    """Append each directory to a little-endian classic TIFF written with `tiff_tags_for`'s
    placeholders, and turn each placeholder into the pointer to its directory. A file in another
    layout (BigTIFF, big-endian) is returned without them."""
    if not directories or tiff[:4] != b"II*\x00":
        return tiff
    import io

    import tifffile

    data = bytearray(tiff)
    with tifffile.TiffFile(io.BytesIO(tiff)) as parsed:
        placeholders = {code: parsed.pages[0].tags.get(code) for code in _PLACEHOLDERS.values()}
    for pointer, tags in directories.items():
        placeholder = placeholders.get(_PLACEHOLDERS[pointer])
        data += b"\x00" * (-len(data) % 2)  # a directory starts on a word boundary
        start = len(data)
        directory = _directory(tags, start)
        if placeholder is None or directory is None:
            continue
        data += directory
        data[placeholder.offset:placeholder.offset + 2] = struct.pack("<H", pointer)
        data[placeholder.valueoffset:placeholder.valueoffset + 4] = struct.pack("<I", start)
    return bytes(data)
