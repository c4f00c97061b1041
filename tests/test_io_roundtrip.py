"""Reading and writing keep depth, pixels, alpha, orientation, EXIF and ICC."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fake_icc, gradient_rgb, write_jpeg
from PIL import Image as PILImage
from PIL import ImageOps

from llid_cli.core.errors import ImageWriteError
from llid_cli.io import Image, WriteOptions, header_megapixels, read_image, write_image


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("gray", [False, True])
def test_lossless_round_trip_keeps_depth_and_pixels(tmp_path, ext, dtype, gray):
    pixels = gradient_rgb(33, 45, dtype=dtype, seed=3)
    if gray:
        pixels = pixels[:, :, 1].copy()
    target = write_image(Image(pixels=pixels), tmp_path / f"img{ext}")
    back = read_image(target)
    assert back.pixels.dtype == dtype
    assert back.is_gray == gray
    np.testing.assert_array_equal(back.pixels, pixels)


def test_dark_16bit_frame_stays_16bit(tmp_path):
    # All values below 256: a reader guessing depth from values would call this 8-bit.
    pixels = (gradient_rgb(20, 30, dtype=np.uint16) // 300).astype(np.uint16)
    assert pixels.max() < 256
    back = read_image(write_image(Image(pixels=pixels), tmp_path / "dark16.png"))
    assert back.pixels.dtype == np.uint16
    np.testing.assert_array_equal(back.pixels, pixels)


@pytest.mark.parametrize("ext", [".png", ".tif", ".webp"])
def test_rgba_in_gives_rgba_out(tmp_path, ext):
    rgb = gradient_rgb(24, 32, seed=4)
    alpha = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (24, 1))
    PILImage.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / f"in{ext}", lossless=True, exact=True)
    image = read_image(tmp_path / f"in{ext}")
    assert image.alpha is not None
    np.testing.assert_array_equal(image.alpha, alpha)
    out = read_image(write_image(image, tmp_path / f"out{ext}", WriteOptions(quality=100)))
    np.testing.assert_array_equal(out.alpha, alpha)
    np.testing.assert_array_equal(out.pixels, rgb)


def test_gray_alpha_png_stays_gray_with_alpha(tmp_path):
    gray = gradient_rgb(16, 20)[:, :, 0]
    alpha = np.full_like(gray, 128)
    PILImage.fromarray(np.dstack([gray, alpha]), "LA").save(tmp_path / "la.png")
    image = read_image(tmp_path / "la.png")
    assert image.is_gray and image.alpha is not None
    out = read_image(write_image(image, tmp_path / "out.png"))
    assert out.is_gray
    np.testing.assert_array_equal(out.pixels, gray)
    np.testing.assert_array_equal(out.alpha, alpha)


def test_palette_png_reads_as_rgb(tmp_path):
    PILImage.fromarray(gradient_rgb(16, 16)).convert("P", palette=PILImage.Palette.ADAPTIVE).save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    assert image.pixels.shape == (16, 16, 3) and image.pixels.dtype == np.uint8


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    PILImage.fromarray(gradient_rgb(16, 16)).convert("CMYK").save(tmp_path / "cmyk.jpg")
    assert read_image(tmp_path / "cmyk.jpg").pixels.shape == (16, 16, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_a_viewer(tmp_path, orientation):
    pixels = gradient_rgb(10, 16, seed=orientation)
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    PILImage.fromarray(pixels).save(tmp_path / "o.png", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(PILImage.open(tmp_path / "o.png")))
    image = read_image(tmp_path / "o.png")
    np.testing.assert_array_equal(image.pixels, expected)


def test_orientation_6_jpeg_is_upright_and_written_with_orientation_1(tmp_path):
    pixels = gradient_rgb(30, 50)
    exif = PILImage.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "llid test camera"
    write_jpeg(tmp_path / "rot.jpg", pixels, quality=100, exif=exif.tobytes())
    image = read_image(tmp_path / "rot.jpg")
    assert image.pixels.shape == (50, 30, 3)  # rotated 90 degrees clockwise for display
    assert np.abs(image.pixels.astype(int) - np.rot90(pixels, -1).astype(int)).mean() < 3
    out = PILImage.open(write_image(image, tmp_path / "out.jpg"))
    assert out.getexif()[0x0112] == 1
    assert out.getexif()[0x010F] == "llid test camera"
    assert out.size == (30, 50)


@pytest.mark.parametrize("ext,dtype", [(".jpg", np.uint8), (".png", np.uint8), (".png", np.uint16),
                                       (".tif", np.uint16), (".webp", np.uint8)])
def test_icc_profile_survives(tmp_path, ext, dtype):
    icc = fake_icc()
    image = Image(pixels=gradient_rgb(12, 12, dtype=dtype), icc=icc)
    back = read_image(write_image(image, tmp_path / f"icc{ext}"))
    assert back.icc == icc


def _photo_exif() -> bytes:
    exif = PILImage.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "llid camera", "L1", "2026:11:29 21:40:00"
    settings = exif.get_ifd(0x8769)
    settings[0x829A], settings[0x829D], settings[0x8827] = 0.25, 2.8, 800  # ExposureTime, FNumber, ISO
    settings[0x9003] = "2026:11:29 21:40:00"  # DateTimeOriginal
    exif.get_ifd(0x8825)[1] = "N"  # GPSLatitudeRef
    return exif.tobytes()


def _photo_tags(path) -> tuple:
    exif = PILImage.open(path).getexif()
    return (exif.get(0x010F), exif.get(0x0110), exif.get(0x0132), exif.get_ifd(0x8769).get(0x829A),
            exif.get_ifd(0x8769).get(0x9003), exif.get_ifd(0x8825).get(1))


@pytest.mark.parametrize("dtype,source", [(np.uint8, ".jpg"), (np.uint16, ".png")])
def test_exif_survives_into_a_tiff_and_out_of_it(tmp_path, dtype, source):
    """A TIFF holds EXIF as directories of its own: what the camera recorded reaches a TIFF output
    (8- and 16-bit) and comes back out of it into a JPEG."""
    from click.testing import CliRunner

    from llid_cli.cli import cli

    expected = ("llid camera", "L1", "2026:11:29 21:40:00", 0.25, "2026:11:29 21:40:00", "N")
    photo = tmp_path / f"in{source}"
    write_image(Image(pixels=gradient_rgb(40, 56, dtype=dtype, dark=0.2), exif=_photo_exif()), photo)
    assert _photo_tags(photo) == expected
    runner = CliRunner()
    assert runner.invoke(cli, ["enhance", str(photo), "-o", str(tmp_path / "out.tif")]).exit_code == 0
    assert _photo_tags(tmp_path / "out.tif") == expected
    image = read_image(tmp_path / "out.tif")
    assert image.pixels.dtype == dtype and image.exposure.iso == 800.0
    assert runner.invoke(cli, ["enhance", str(tmp_path / "out.tif"), "-o", str(tmp_path / "again.jpg")]).exit_code == 0
    assert _photo_tags(tmp_path / "again.jpg") == expected


def test_a_tiff_whose_exif_is_broken_still_reads(tmp_path):
    import struct
    import subprocess
    import sys

    import tifffile

    write_image(Image(pixels=gradient_rgb(20, 30), exif=_photo_exif()), tmp_path / "ok.tif")
    data = bytearray((tmp_path / "ok.tif").read_bytes())
    with tifffile.TiffFile(tmp_path / "ok.tif") as tif:
        pointer = tif.pages[0].tags[0x8769].valueoffset
    data[pointer:pointer + 4] = struct.pack("<I", len(data) + 10_000)  # the EXIF directory is past the end
    (tmp_path / "broken.tif").write_bytes(bytes(data))
    image = read_image(tmp_path / "broken.tif")
    assert np.array_equal(image.pixels, read_image(tmp_path / "ok.tif").pixels) and image.exposure is None
    # The CLI says one line for the photo, none of tifffile's about what it skipped.
    done = subprocess.run([sys.executable, "-m", "llid_cli", "enhance", str(tmp_path / "broken.tif"), "-o",
                           str(tmp_path / "out.tif"), "--model", "clahe"], capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 0 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{tmp_path / 'broken.tif'} -> {tmp_path / 'out.tif'} (")


def test_exif_survives_in_16bit_png(tmp_path):
    exif = PILImage.Exif()
    exif[0x010F] = "llid camera"
    image = Image(pixels=gradient_rgb(12, 12, dtype=np.uint16), exif=exif.tobytes())
    out = PILImage.open(write_image(image, tmp_path / "e.png"))
    assert out.getexif()[0x010F] == "llid camera"


def test_16bit_to_jpeg_is_written_as_8bit(tmp_path):
    image = Image(pixels=gradient_rgb(12, 12, dtype=np.uint16))
    assert read_image(write_image(image, tmp_path / "x.jpg")).pixels.dtype == np.uint8


def test_input_is_never_overwritten(tmp_path, dark_jpeg):
    before = dark_jpeg.read_bytes()
    image = read_image(dark_jpeg)
    with pytest.raises(ImageWriteError, match="overwrite the input"):
        write_image(image, dark_jpeg)
    assert dark_jpeg.read_bytes() == before


def test_atomic_write_leaves_nothing_when_interrupted(tmp_path, monkeypatch):
    import os

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(Image(pixels=gradient_rgb(8, 8)), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_heic_is_read_for_real(tmp_path):
    """A HEIC written by pillow-heif (a test dependency) reads back upright, 8-bit RGB, close to what was written."""
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image as PILImage

    from llid_cli.io import read_image

    pillow_heif.register_heif_opener()
    rgb = gradient_rgb(64, 96, seed=9)
    PILImage.fromarray(rgb).save(tmp_path / "phone.heic", format="HEIF", quality=95)
    pixels = read_image(tmp_path / "phone.heic").pixels
    assert pixels.shape == (64, 96, 3) and pixels.dtype == np.uint8
    assert np.abs(pixels.astype(int) - rgb.astype(int)).mean() < 6  # lossy, 4:2:0 chroma; a channel swap gives ~60


def test_heic_is_written_with_exif_icc_and_alpha(tmp_path):
    """A HEIC output keeps what a phone's photo carries: EXIF (camera, date, GPS and the exposure
    settings the night look reads), ICC and alpha."""
    pytest.importorskip("pillow_heif")
    rgb = gradient_rgb(48, 64, seed=4)
    alpha = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))
    image = Image(pixels=rgb, alpha=alpha, exif=_photo_exif(), icc=fake_icc())
    back = read_image(write_image(image, tmp_path / "phone.heic"))
    assert back.pixels.shape == (48, 64, 3) and back.pixels.dtype == np.uint8
    assert np.abs(back.pixels.astype(int) - rgb.astype(int)).mean() < 3  # lossy at q95 4:4:4; a channel swap gives ~60
    assert np.abs(back.alpha.astype(int) - alpha.astype(int)).mean() < 3
    assert back.icc == fake_icc()
    assert _photo_tags(tmp_path / "phone.heic") == ("llid camera", "L1", "2026:11:29 21:40:00", 0.25,
                                                     "2026:11:29 21:40:00", "N")
    assert back.exposure is not None and back.exposure.iso == 800
    assert header_megapixels(tmp_path / "phone.heic") == 48 * 64 / 1e6  # what --backend auto sizes a job by


@pytest.mark.parametrize("gray,alpha", [(False, False), (False, True), (True, False)])
def test_a_16bit_photo_is_a_10bit_heic_and_reads_back_16bit(tmp_path, gray, alpha):
    """Depth comes from the file: a 16-bit photo is written as a 10-bit HEIC (with its metadata)
    and read back as 16-bit, its dark gradations kept to 10 bits (an 8-bit HEIC would hold 4x
    fewer); white stays white. `--bit-depth 8` writes 8 bits."""
    pytest.importorskip("pillow_heif")
    rgb = gradient_rgb(48, 64, dtype=np.uint16, seed=3, dark=0.05)  # a dark frame: the low bits matter
    rgb[:4, :4] = 65535
    pixels = rgb[:, :, 1].copy() if gray else rgb
    mask = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (48, 1)) if alpha else None
    image = Image(pixels=pixels, alpha=mask, exif=_photo_exif(), icc=None if gray else fake_icc(), xmp=_XMP_UPRIGHT)
    back = read_image(write_image(image, tmp_path / "deep.heic"))
    assert back.pixels.dtype == np.uint16 and back.pixels.shape == pixels.shape
    assert np.abs(back.pixels.astype(int) - pixels.astype(int)).mean() < 200  # 10 bits are 64 levels of 16
    assert len(np.unique(back.pixels)) > len(np.unique(pixels >> 8))  # finer than 8 bits could hold
    assert back.pixels[:2, :2].min() >= 65000  # white
    assert back.exposure is not None and back.exposure.iso == 800 and back.xmp == _XMP_UPRIGHT
    assert (back.alpha is not None) == alpha and (back.icc == (None if gray else fake_icc()))
    if alpha:
        assert np.abs(back.alpha.astype(int) - mask.astype(int)).mean() < 400
    shallow = read_image(write_image(image, tmp_path / "shallow.heic", WriteOptions(bit_depth=8)))
    assert shallow.pixels.dtype == np.uint8


def test_writing_heic_without_its_extra_says_what_to_install(tmp_path, monkeypatch):
    import sys

    from llid_cli.core.errors import UnsupportedFormatError

    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import pillow_heif now fails
    with pytest.raises(UnsupportedFormatError, match=r"HEIC needs the 'heic' extra: pip install 'llid\[heic\]'"):
        write_image(Image(pixels=gradient_rgb(8, 8)), tmp_path / "x.heic")
    assert not (tmp_path / "x.heic").exists()


def test_avif_round_trip_keeps_exif_icc_and_alpha(tmp_path):
    """AVIF, read and written by Pillow itself: EXIF (with the exposure settings), ICC and alpha
    survive, 16 bits are rounded to 8, and `llid enhance x.avif` writes x_llid.avif."""
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF codec")
    from click.testing import CliRunner

    from llid_cli.cli import cli

    rgb = gradient_rgb(48, 64, seed=5)
    alpha = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))
    back = read_image(write_image(Image(pixels=rgb, alpha=alpha, exif=_photo_exif(), icc=fake_icc()), tmp_path / "a.avif"))
    assert back.pixels.shape == (48, 64, 3) and back.pixels.dtype == np.uint8
    assert np.abs(back.pixels.astype(int) - rgb.astype(int)).mean() < 3  # lossy at q95 4:4:4
    assert np.abs(back.alpha.astype(int) - alpha.astype(int)).mean() < 3
    assert back.icc == fake_icc() and back.exposure is not None and back.exposure.iso == 800
    assert _photo_tags(tmp_path / "a.avif")[:3] == ("llid camera", "L1", "2026:11:29 21:40:00")
    assert read_image(write_image(Image(pixels=gradient_rgb(16, 16, dtype=np.uint16)), tmp_path / "d.avif")).pixels.dtype == np.uint8
    write_image(Image(pixels=gradient_rgb(40, 56, seed=2, dark=0.15)), tmp_path / "dark.avif")
    result = CliRunner().invoke(cli, ["enhance", str(tmp_path / "dark.avif"), "--model", "clahe"])
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "dark_llid.avif").pixels.mean() > read_image(tmp_path / "dark.avif").pixels.mean() + 20


def test_avif_without_a_codec_says_what_to_install(tmp_path, monkeypatch):
    from PIL import features

    from llid_cli.core.errors import UnsupportedFormatError

    monkeypatch.setattr(features, "check", lambda name: False if name == "avif" else True)
    (tmp_path / "a.avif").write_bytes(b"\x00\x00\x00\x1cftypavif" + b"\x00" * 64)
    for call in (lambda: read_image(tmp_path / "a.avif"), lambda: write_image(Image(pixels=gradient_rgb(8, 8)), tmp_path / "b.avif")):
        with pytest.raises(UnsupportedFormatError, match=r"AVIF needs a Pillow built with it \(11.3 or newer\): pip install -U Pillow"):
            call()
    assert not (tmp_path / "b.avif").exists()


def test_a_phones_heic_is_enhanced_beside_itself_as_heic(tmp_path):
    """`llid enhance IMG.HEIC` with no -o writes IMG_llid.HEIC (it failed: llid could not write
    HEIC), keeping the phone's EXIF."""
    pytest.importorskip("pillow_heif")
    from click.testing import CliRunner

    from llid_cli.cli import cli

    dark = Image(pixels=gradient_rgb(40, 56, seed=2, dark=0.15), exif=_photo_exif())
    write_image(dark, tmp_path / "IMG_0001.HEIC")
    result = CliRunner().invoke(cli, ["enhance", str(tmp_path / "IMG_0001.HEIC"), "--model", "clahe"])
    assert result.exit_code == 0, result.output
    out = read_image(tmp_path / "IMG_0001_llid.HEIC")
    assert out.pixels.shape == (40, 56, 3)
    assert out.pixels.mean() > read_image(tmp_path / "IMG_0001.HEIC").pixels.mean() + 20
    assert out.exposure is not None and out.exposure.iso == 800


def _tiny_dng(path, height: int = 64, width: int = 96, exposure: tuple[float, float, int] | None = None) -> None:
    """A camera RAW as a camera writes one: a 12-bit RGGB Bayer mosaic in a DNG (TIFF with the DNG
    tags LibRaw needs), red on the left half of the scene and blue on the right; `exposure`
    (seconds, f-number, ISO): the settings recorded with it."""
    import tifffile

    scene = np.zeros((height, width, 3))
    scene[:, : width // 2] = (0.6, 0.3, 0.1)
    scene[:, width // 2 :] = (0.1, 0.3, 0.6)
    mosaic = np.zeros((height, width), np.uint16)
    for (dy, dx), channel in {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 2}.items():
        mosaic[dy::2, dx::2] = 64 + scene[dy::2, dx::2, channel] * 4000

    def rationals(values):
        return [part for v in values for part in (int(round(v * 10000)), 10000)]

    tags = [
        (33421, "H", 2, (2, 2), False),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), False),  # CFAPattern: R G / G B
        (50706, "B", 4, (1, 4, 0, 0), False),  # DNGVersion
        (50708, "s", 0, "llid test camera", False),  # UniqueCameraModel
        (50714, "H", 1, (64,), False),  # BlackLevel
        (50717, "H", 1, (4095,), False),  # WhiteLevel
        (50721, "2i", 9, rationals([1, 0, 0, 0, 1, 0, 0, 0, 1]), False),  # ColorMatrix1
        (50778, "H", 1, (21,), False),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, rationals([1, 1, 1]), False),  # AsShotNeutral
    ]
    if exposure is not None:
        tags.append((34664, "I", 1, (0,), False))  # becomes ExifIFD (34665), which tifffile will not write
    tifffile.imwrite(path, mosaic, photometric=32803, subfiletype=0, extratags=tags)
    if exposure is not None:
        _append_exif_ifd(path, *exposure)


def _append_exif_ifd(path, seconds: float, f_number: float, iso: int) -> None:
    """Append an EXIF directory (ExposureTime, FNumber, ISOSpeedRatings) to a little-endian TIFF
    and turn its placeholder tag 34664 into an ExifIFD tag pointing at it, as cameras store their
    settings (tifffile writes no EXIF directory; LibRaw reads the ISO only from there)."""
    import struct

    import tifffile

    with tifffile.TiffFile(path) as tif:
        entry, pointer = tif.pages[0].tags[34664].offset, tif.pages[0].tags[34664].valueoffset
    data = bytearray(open(path, "rb").read())
    data += b"\x00" * (-len(data) % 2)
    start = len(data)
    values = start + 2 + 3 * 12 + 4  # the two rationals follow the directory
    entries = [struct.pack("<HHII", 33434, 5, 1, values), struct.pack("<HHII", 33437, 5, 1, values + 8),
               struct.pack("<HHIHH", 34855, 3, 1, iso, 0)]
    data += struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", 0)
    data += struct.pack("<IIII", round(seconds * 10000), 10000, round(f_number * 10000), 10000)
    data[entry:entry + 2] = struct.pack("<H", 34665)
    data[pointer:pointer + 4] = struct.pack("<I", start)
    with open(path, "wb") as handle:
        handle.write(bytes(data))


def test_camera_raw_is_read_for_real(tmp_path):
    """A DNG made here is demosaiced by rawpy (a test dependency) into 16-bit RGB, dark as shot,
    with red where the scene was red; `llid enhance` turns it into a 16-bit PNG."""
    pytest.importorskip("rawpy")
    from click.testing import CliRunner

    from llid_cli.cli import cli
    from llid_cli.io import read_image

    _tiny_dng(tmp_path / "shot.dng")
    image = read_image(tmp_path / "shot.dng")
    assert image.pixels.shape == (64, 96, 3) and image.pixels.dtype == np.uint16
    assert header_megapixels(tmp_path / "shot.dng") == 64 * 96 / 1e6  # LibRaw's header, nothing decoded
    left, right = image.pixels[:, :40].reshape(-1, 3).mean(0), image.pixels[:, -40:].reshape(-1, 3).mean(0)
    assert left[0] > left[2] and right[2] > right[0]
    result = CliRunner().invoke(cli, ["enhance", str(tmp_path / "shot.dng"), "-o", str(tmp_path / "shot.png")])
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "shot.png").pixels.dtype == np.uint16


def test_camera_raw_brings_its_exposure_settings(tmp_path):
    """What the camera recorded reaches the photo (for the night look); a RAW without it has none."""
    pytest.importorskip("rawpy")
    from llid_cli.io import read_image
    from llid_cli.io.metadata import ExposureSettings

    _tiny_dng(tmp_path / "night.dng", exposure=(0.25, 2.8, 800))
    settings = read_image(tmp_path / "night.dng").exposure
    assert settings == ExposureSettings(0.25, pytest.approx(2.8), 800.0)
    _tiny_dng(tmp_path / "plain.dng")
    assert read_image(tmp_path / "plain.dng").exposure is None


@pytest.mark.parametrize("shape", [(37, 53, 3), (37, 53), (5, 7, 4)])
def test_float_to_8_bit_rounds_half_to_even_and_clips(shape):
    """from_float's fast path (OpenCV) gives the bytes of the plain rule: clip, scale, round half to even."""
    from llid_cli.io.image import from_float

    k = np.arange(256, dtype=np.float32)
    special = np.concatenate([(k + 0.5) / 255, k / 255, np.nextafter((k + 0.5) / 255, np.float32(2)),
                              np.nextafter((k + 0.5) / 255, np.float32(-2)), [-1.0, -1e-9, 1.0 + 1e-6, 7.0]])
    values = np.random.default_rng(3).uniform(-0.2, 1.2, shape).astype(np.float32)
    flat = values.reshape(-1)
    flat[: min(flat.size, special.size)] = special[: flat.size]
    expected = np.rint(np.clip(values, 0.0, 1.0) * np.float32(255)).astype(np.uint8)
    assert np.array_equal(from_float(values, np.uint8), expected)


def test_a_camera_raw_is_written_as_a_16bit_tiff_unless_told_otherwise(tmp_path):
    """llid cannot write RAW: a RAW's output named after it is a TIFF, which keeps its 16 bits
    (`enhance` beside it and `batch`, which resumes on those names); `--format` still decides."""
    pytest.importorskip("rawpy")
    from click.testing import CliRunner

    from llid_cli.cli import cli
    from llid_cli.io.formats import default_extension

    assert [default_extension(n) for n in ("a.CR2", "b.dng", "c.HEIC", "d.jpg")] == [".tif", ".tif", ".HEIC", ".jpg"]
    (tmp_path / "card").mkdir()
    _tiny_dng(tmp_path / "card" / "DSC_0001.dng")
    runner = CliRunner()
    result = runner.invoke(cli, ["enhance", str(tmp_path / "card" / "DSC_0001.dng"), "--model", "clahe"])
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "card" / "DSC_0001_llid.tif").pixels.dtype == np.uint16
    (tmp_path / "card" / "DSC_0001_llid.tif").unlink()
    for expected in ("1 enhanced, 0 skipped", "0 enhanced, 1 skipped"):
        result = runner.invoke(cli, ["batch", str(tmp_path / "card"), "-o", str(tmp_path / "out"), "--model", "clahe"])
        assert result.exit_code == 0 and expected in result.output, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("DSC*")) == ["DSC_0001.tif"]
    assert read_image(tmp_path / "out" / "DSC_0001.tif").pixels.dtype == np.uint16
    result = runner.invoke(cli, ["batch", str(tmp_path / "card"), "-o", str(tmp_path / "jpegs"), "--model", "clahe",
                                 "--format", "jpeg"])
    assert result.exit_code == 0 and (tmp_path / "jpegs" / "DSC_0001.jpg").is_file(), result.output


_XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description'
        b' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
        b' xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        b' xmp:Rating="5" tiff:Orientation="6" crs:Exposure2012="+1.50" crs:HasSettings="True">'
        b'<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">(c) Jane Photographer</rdf:li></rdf:Alt></dc:rights>'
        b'<crs:ToneCurvePV2012><rdf:Seq><rdf:li>0, 0</rdf:li><rdf:li>255, 255</rdf:li></rdf:Seq></crs:ToneCurvePV2012>'
        b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


_XMP_UPRIGHT = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'


def _kept_as_an_output_should(xmp: bytes | None) -> bool:
    """The photographer's rating and rights are there, the orientation is upright and Camera Raw's
    develop settings (edits of the old pixels) are gone."""
    return (xmp is not None and b'xmp:Rating="5"' in xmp and b"(c) Jane Photographer" in xmp
            and b'tiff:Orientation="1"' in xmp and b"crs:Exposure2012" not in xmp and b"ToneCurvePV2012" not in xmp)


@pytest.mark.parametrize("ext,dtype,alpha", [(".jpg", np.uint8, False), (".png", np.uint8, False), (".png", np.uint16, True),
                                             (".webp", np.uint8, True), (".tif", np.uint16, False), (".heic", np.uint8, False),
                                             (".avif", np.uint8, False)])
def test_xmp_survives_every_format_that_holds_it(tmp_path, ext, dtype, alpha):
    from PIL import features

    if ext == ".heic":
        pytest.importorskip("pillow_heif")
    if ext == ".avif" and not features.check("avif"):
        pytest.skip("this Pillow has no AVIF codec")
    from llid_cli.io.xmp import xmp_for_output

    mask = np.full((20, 30), 200, dtype) if alpha else None
    image = Image(pixels=gradient_rgb(20, 30, dtype=dtype), alpha=mask, xmp=xmp_for_output(_XMP))
    assert _kept_as_an_output_should(read_image(write_image(image, tmp_path / f"x{ext}")).xmp)


def test_gray_alpha_png_keeps_xmp_too(tmp_path):
    """8-bit gray+alpha PNGs are encoded by Pillow rather than OpenCV: the same chunk is added."""
    from llid_cli.io.xmp import xmp_for_output

    image = Image(pixels=gradient_rgb(20, 30)[:, :, 0].copy(), alpha=np.full((20, 30), 9, np.uint8), xmp=xmp_for_output(_XMP))
    assert _kept_as_an_output_should(read_image(write_image(image, tmp_path / "g.png")).xmp)


def test_enhance_keeps_the_photographers_xmp(tmp_path):
    """A JPEG as Lightroom leaves it (rating, rights, develop settings in its XMP, orientation 6)
    comes out of `llid enhance` with its rating and rights, upright, without the old develop settings."""
    from click.testing import CliRunner

    from llid_cli.cli import cli

    exif = PILImage.Exif()
    exif[0x0112] = 6
    PILImage.fromarray(gradient_rgb(40, 56, dark=0.2)).save(tmp_path / "in.jpg", quality=95, xmp=_XMP, exif=exif.tobytes())
    result = CliRunner().invoke(cli, ["enhance", str(tmp_path / "in.jpg"), "-o", str(tmp_path / "out.jpg"), "--model", "clahe"])
    assert result.exit_code == 0, result.output
    out = PILImage.open(tmp_path / "out.jpg")
    assert _kept_as_an_output_should(out.info.get("xmp")) and out.size == (40, 56)


def test_xmp_too_long_for_a_jpeg_is_left_out_not_a_failure(tmp_path):
    """One APP1 segment holds 65504 bytes of XMP; a longer packet (an embedded preview, say) is not
    written to a JPEG, and the photo is. PNG holds it whole."""
    from llid_cli.io.xmp import xmp_for_output

    long = _XMP.replace(b"</rdf:Description>", b"<dc:description>" + b"x" * 70000 + b"</dc:description></rdf:Description>")
    image = Image(pixels=gradient_rgb(8, 8), xmp=xmp_for_output(long))
    assert read_image(write_image(image, tmp_path / "a.jpg")).xmp is None
    assert _kept_as_an_output_should(read_image(write_image(image, tmp_path / "a.png")).xmp)


def _cmyk_icc() -> bytes:
    """A profile header as a printer's CMYK profile has it (class 'prtr', colour space 'CMYK')."""
    return b"\x00\x00\x02\x0clcms\x02\x10\x00\x00prtrCMYKLab " + bytes(range(256)) * 2


def test_a_cmyk_profile_does_not_follow_its_photo_into_rgb(tmp_path):
    """A CMYK JPEG or TIFF is read as RGB; its CMYK profile describes it no more and is left behind
    (an RGB output tagged with it is shown wrongly by colour-managed viewers). An RGB profile stays."""
    import tifffile

    cmyk = PILImage.fromarray(gradient_rgb(16, 16)).convert("CMYK")
    cmyk.save(tmp_path / "print.jpg", icc_profile=_cmyk_icc())
    assert PILImage.open(tmp_path / "print.jpg").info["icc_profile"] == _cmyk_icc()
    tifffile.imwrite(tmp_path / "print.tif", np.asarray(cmyk), photometric="separated", iccprofile=_cmyk_icc())
    for name in ("print.jpg", "print.tif"):
        image = read_image(tmp_path / name)
        assert image.pixels.shape == (16, 16, 3) and image.icc is None
        assert "icc_profile" not in PILImage.open(write_image(image, tmp_path / f"out-{name}.jpg")).info
    gray = Image(pixels=gradient_rgb(16, 16)[:, :, 0].copy(), icc=fake_icc())  # an RGB profile on gray pixels
    assert read_image(write_image(gray, tmp_path / "g.png")).icc is None
    assert read_image(write_image(Image(pixels=gradient_rgb(16, 16), icc=fake_icc()), tmp_path / "c.png")).icc == fake_icc()


def _iptc_records() -> bytes:
    """IPTC-IIM records: the record version and a copyright notice (2:116)."""
    import struct

    return b"\x1c\x02\x00\x00\x02\x00\x04" + b"\x1c\x02\x74" + struct.pack(">H", 21) + b"(c) Jane Photographer"


def _photoshop_segment(resources: dict[int, bytes]) -> bytes:
    """A JPEG APP13 segment as Photoshop writes one, with these image resources."""
    import struct

    blocks = b"".join(b"8BIM" + struct.pack(">H", rid) + b"\x00\x00" + struct.pack(">I", len(data)) + data
                      + (b"\x00" if len(data) % 2 else b"") for rid, data in resources.items())
    payload = b"Photoshop 3.0\x00" + blocks
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def test_iptc_survives_jpeg_and_tiff_without_photoshops_other_resources(tmp_path):
    """A news photographer's caption and credit (IPTC-IIM) come through `llid enhance`, JPEG to JPEG
    and to TIFF and back; the rest of Photoshop's segment (here a thumbnail of the old pixels,
    resource 0x040C) is not carried."""
    from click.testing import CliRunner

    from llid_cli.cli import cli

    segment = _photoshop_segment({0x040C: b"\xff\xd8 old dark thumbnail \xff\xd9", 0x0404: _iptc_records()})
    PILImage.fromarray(gradient_rgb(40, 56, dark=0.2)).save(tmp_path / "wire.jpg", quality=95, extra=segment)
    assert set(PILImage.open(tmp_path / "wire.jpg").info["photoshop"]) == {0x040C, 0x0404}
    assert read_image(tmp_path / "wire.jpg").iptc == _iptc_records()
    runner = CliRunner()
    for out in ("out.jpg", "out.tif"):
        result = runner.invoke(cli, ["enhance", str(tmp_path / "wire.jpg"), "-o", str(tmp_path / out), "--model", "clahe"])
        assert result.exit_code == 0, result.output
        assert read_image(tmp_path / out).iptc == _iptc_records()
    assert PILImage.open(tmp_path / "out.jpg").info["photoshop"] == {0x0404: _iptc_records()}
    back = read_image(write_image(read_image(tmp_path / "out.tif"), tmp_path / "again.jpg"))
    assert back.iptc == _iptc_records()
    assert read_image(write_image(Image(pixels=gradient_rgb(8, 8), iptc=b"not records"), tmp_path / "x.tif")).iptc is None



@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_iptc_typed_as_longs_in_a_tiff_is_read(tmp_path, byteorder):
    """Photoshop and other writers type tag 33723 LONG rather than UNDEFINED: its bytes are the
    records as written, in either byte order of the file."""
    import tifffile

    records = _iptc_records()
    records += b"\x00" * (-len(records) % 4)
    longs = np.frombuffer(records, dtype=byteorder + "u4")
    tifffile.imwrite(tmp_path / "longs.tif", gradient_rgb(8, 8), byteorder=byteorder,
                     extratags=[(33723, "I", len(longs), tuple(int(v) for v in longs), True)])
    assert tifffile.TiffFile(tmp_path / "longs.tif").pages[0].tags[33723].dtype == 4  # LONG
    assert read_image(tmp_path / "longs.tif").iptc == records

def test_a_broken_camera_raw_fails_in_one_readable_line(tmp_path):
    """LibRaw's reasons arrive as bytes; the message is text, and names the file."""
    pytest.importorskip("rawpy")
    from click.testing import CliRunner

    from llid_cli.cli import cli

    _tiny_dng(tmp_path / "shot.dng")
    whole = (tmp_path / "shot.dng").read_bytes()
    (tmp_path / "cut.dng").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "noise.nef").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    for name, reason in (("cut.dng", "its data is truncated or damaged"), ("noise.nef", "Unsupported file format")):
        result = CliRunner().invoke(cli, ["enhance", str(tmp_path / name), "-o", str(tmp_path / "out.tif")])
        assert result.exit_code == 1
        line = result.output.strip()
        assert "\n" not in line and name in line and reason in line and "b'" not in line, line
        assert not (tmp_path / "out.tif").exists()
