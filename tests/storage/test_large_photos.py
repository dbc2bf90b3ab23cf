"""The largest photos people send: 48 megapixels from a phone's 48 MP mode, as HEIC and as JPEG.

They must come out like any other photo (display and thumbnail sizes, upright, no location), and one
ingest must stay within a bounded amount of memory: the server decodes two at a time per process.
"""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageOps, ImageStat

from merchant_alliance.storage import images
from merchant_alliance.storage.images import ImageRejected, process_image
from tests.storage import pictures

PROJECT_DIR = Path(__file__).resolve().parents[2]
LIMITS = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 50_000_000}
CORNERS = ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))


@pytest.fixture(scope="module")
def picture_48mp() -> Image.Image:
    return pictures.quadrants_48mp()


@pytest.fixture(scope="module")
def heic_48mp(picture_48mp: Image.Image) -> bytes:
    return pictures.iphone_heic_48mp(picture_48mp)


def colour_at(image: Image.Image, x: float, y: float) -> tuple[int, ...]:
    px, py = int(image.width * x), int(image.height * y)
    return tuple(round(v) for v in ImageStat.Stat(image.crop((px - 2, py - 2, px + 3, py + 3))).mean)


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 30) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def test_a_48_megapixel_iphone_heic_comes_out_upright_at_both_sizes_without_its_location(heic_48mp):
    """A shopkeeper sends a photo taken in the iPhone's 48 MP mode, phone held upright: it is accepted and
    shown portrait at the display and thumbnail sizes, the left of the sensor on top; camera, owner and GPS
    are gone, the capture time stays."""
    assert len(heic_48mp) < LIMITS["max_bytes"] and b"Huawei" in heic_48mp
    result = process_image(heic_48mp, "IMG_4800.HEIC", **LIMITS)
    assert (result.source_format, result.width, result.height) == ("HEIF", 1200, 1600)
    assert (result.thumb_width, result.thumb_height) == (240, 320)
    small = pictures.jpeg(pictures.quadrants((64, 48)), exif=pictures.phone_exif(orientation=6))
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(small)))
    for made in (result.display, result.thumb):
        shown = Image.open(io.BytesIO(made))
        assert shown.format == "JPEG" and shown.size[0] < shown.size[1]
        for x, y in CORNERS:
            assert close_to(colour_at(shown, x, y), colour_at(upright, x, y)), (shown.size, x, y)
        assert ExifTags.IFD.GPSInfo not in shown.getexif()
        assert b"Huawei" not in made and b"Zhang Wei" not in made
    assert result.taken_at == datetime(2026, 3, 14, 1, 26, 53)


def test_a_48_megapixel_heic_over_a_lower_pixel_limit_is_refused_before_libheif_decodes_it(heic_48mp, monkeypatch):
    """A server configured for at most 40 megapixels refuses the 48 MP photo from its header alone."""
    def no_decoding(*args, **kwargs):
        raise AssertionError("the picture was decoded")

    monkeypatch.setattr(pillow_heif, "open_heif", no_decoding)
    with pytest.raises(ImageRejected) as refused:
        process_image(heic_48mp, "IMG_4800.HEIC", max_bytes=LIMITS["max_bytes"], max_pixels=40_000_000)
    assert refused.value.reason == "too_many_pixels"


@pytest.mark.parametrize(("size", "transparent"), [
    ((500, 301), False), ((321, 503), False), ((2001, 37), False), ((37, 1501), False),
    ((619, 407), True), ((167, 100), False), ((75, 50), False), ((150, 100), True),
])
def test_a_heic_shrunk_band_by_band_has_the_very_pixels_of_a_whole_decode(size, transparent, monkeypatch):
    """Shrinking a HEIC straight from libheif's buffer, a few rows at a time, gives exactly what decoding it
    whole into Pillow and making a thumbnail gives: the same size, the same pixels, bands ending anywhere."""
    monkeypatch.setattr(images, "HEIF_BAND_BYTES", 4096)  # many bands, most of them ending mid-picture
    picture = pictures.gradient(size)
    if transparent:
        picture.putalpha(Image.linear_gradient("L").resize(size))
    data = pictures.encode(picture, "HEIF", quality=80, enc_params={"preset": "ultrafast"})
    with Image.open(io.BytesIO(data)) as whole:
        whole.load()
        expected = whole.convert(whole.mode)
    expected.thumbnail((100, 75) if size[0] >= size[1] else (75, 100), images.DISPLAY_RESAMPLE,
                       reducing_gap=images.DISPLAY_REDUCING_GAP)
    if transparent:
        on_white = Image.new("RGB", expected.size, "white")
        on_white.paste(expected, mask=expected.getchannel("A"))
        expected = on_white
    result = process_image(data, "mockup.heic", display_box=(100, 75), **LIMITS)
    assert (result.width, result.height) == expected.size
    assert result.display == pictures.encode(expected, "JPEG", quality=images.JPEG_QUALITY)


MEASURE_PEAK = """
import sys
from pathlib import Path
from merchant_alliance.storage.images import process_image

def peak_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # starts afresh in a new process, unlike ru_maxrss
            return int(line.split()[1])

limits = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 50_000_000}
process_image(Path(sys.argv[1]).read_bytes(), "warm-up", **limits)  # libheif, its decoder, Pillow's codecs
photo = Path(sys.argv[2]).read_bytes()
before = peak_kb()
process_image(photo, "IMG_4800", **limits)
print((peak_kb() - before) / 1024)
"""


@pytest.mark.parametrize(("kind", "bound_mb"), [("HEIC", 250), ("JPEG", 100)])
def test_a_48_megapixel_photo_is_ingested_within_a_bounded_amount_of_memory(kind, bound_mb, picture_48mp,
                                                                             heic_48mp, tmp_path):
    """Ingesting one 48 MP photo, in a fresh process, raises its peak memory by at most the bound: about
    210 MB for a HEIC (libheif's own decode: the 146 MB RGB frame and the grid's YCbCr picture at once;
    it was 340 MB when Pillow got a full-size copy too), about 30 MB for a JPEG (decoded at a quarter)."""
    if kind == "HEIC":
        photo, warm_up = heic_48mp, pictures.heic()
    else:
        photo, warm_up = pictures.jpeg(picture_48mp, exif=pictures.phone_exif(orientation=6)), pictures.jpeg()
    (tmp_path / "warm-up").write_bytes(warm_up)
    (tmp_path / "photo").write_bytes(photo)
    measured = subprocess.run(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", MEASURE_PEAK, str(tmp_path / "warm-up"), str(tmp_path / "photo")],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120, check=True,
    )
    growth_mb = float(measured.stdout)
    assert growth_mb < bound_mb, f"one 48 MP {kind} took {growth_mb:.0f} MB"
