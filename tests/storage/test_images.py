"""The image pipeline: what it accepts, what it makes of it, and what it refuses (and how fast)."""

from __future__ import annotations

import hashlib
import io
import time
from datetime import datetime

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile, ImageOps, ImageStat
from PIL.JpegImagePlugin import JpegImageFile

from merchant_alliance.storage import images
from merchant_alliance.storage.images import ImageRejected, process_image
from tests.storage import pictures

LIMITS = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 50_000_000}


def process(data: bytes, filename: str = "photo.jpg", **options) -> images.ProcessedImage:
    return process_image(data, filename, **{**LIMITS, **options})


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


def colour_at(image: Image.Image, x: float, y: float) -> tuple[int, ...]:
    """The mean colour of a small patch around (x, y), given as fractions of the width and height."""
    px, py = int(image.width * x), int(image.height * y)
    patch = image.crop((max(px - 2, 0), max(py - 2, 0), px + 3, py + 3))
    return tuple(round(v) for v in ImageStat.Stat(patch).mean)


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 30) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# --- Accepted photos ----------------------------------------------------------------------------


def test_a_phone_jpeg_becomes_a_display_and_a_thumbnail_jpeg():
    data = pictures.jpeg(pictures.gradient((3200, 2400)), exif=pictures.phone_exif())
    result = process(data)
    assert result.source_format == "JPEG"
    assert (result.width, result.height) == (1600, 1200)
    assert (result.thumb_width, result.thumb_height) == (320, 240)
    assert opened(result.display).size == (1600, 1200)
    assert opened(result.thumb).size == (320, 240)
    assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_jpeg_is_decoded_straight_to_the_display_size(monkeypatch):
    """draft() is asked for the display box itself, turned to the stored picture (DESIGN.md figures)."""
    requests = []
    original = JpegImageFile.draft

    def spy(self, mode, size):
        requests.append((mode, size, self.size))
        return original(self, mode, size)

    monkeypatch.setattr(JpegImageFile, "draft", spy)
    process(pictures.jpeg(pictures.gradient((3200, 2400))))
    process(pictures.jpeg(pictures.gradient((2400, 3200))))
    process(pictures.jpeg(pictures.gradient((3200, 2400)), exif=pictures.phone_exif(orientation=6)))
    ours = [r for r in requests if r[0] == "RGB"]  # (Image.thumbnail also calls draft, as a no-op)
    assert [r[1] for r in ours] == [(1600, 1200), (1200, 1600), (1600, 1200)]
    assert [r[2] for r in ours] == [(3200, 2400), (2400, 3200), (3200, 2400)]


def test_small_photos_are_never_enlarged():
    result = process(pictures.jpeg(pictures.quadrants((200, 100))))
    assert (result.width, result.height, result.thumb_width, result.thumb_height) == (200, 100, 200, 100)


def test_portrait_photos_get_the_box_turned_upright():
    result = process(pictures.jpeg(pictures.gradient((1500, 4000))))
    assert (result.width, result.height) == (600, 1600)
    assert (result.thumb_width, result.thumb_height) == (120, 320)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_a_phone_shows_it(orientation):
    source = pictures.quadrants((64, 32))
    data = pictures.jpeg(source, exif=pictures.phone_exif(orientation=orientation))
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    result = opened(process(data).display).convert("RGB")
    assert result.size == expected.size
    for x, y in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        assert close_to(colour_at(result, x, y), colour_at(expected, x, y)), (orientation, x, y)


def test_orientation_6_makes_a_landscape_capture_portrait_with_the_left_side_on_top():
    # What a phone held upright stores: a landscape frame and "turn me 90° clockwise".
    stored = Image.new("RGB", (3200, 2400), pictures.RED)
    stored.paste(pictures.BLUE, (1600, 0, 3200, 2400))  # left half red, right half blue
    result = process(pictures.jpeg(stored, exif=pictures.phone_exif(orientation=6)))
    assert (result.width, result.height) == (1200, 1600)
    display = opened(result.display)
    assert close_to(colour_at(display, 0.5, 0.2), pictures.RED)
    assert close_to(colour_at(display, 0.5, 0.8), pictures.BLUE)
    assert opened(result.thumb).size == (240, 320)
    assert "exif" not in display.info or display.getexif().get(ExifTags.Base.Orientation) is None


def test_location_and_private_metadata_are_gone_but_the_capture_time_stays():
    data = pictures.jpeg(pictures.gradient((800, 600)), exif=pictures.phone_exif(orientation=1),
                         xmp=pictures.SECRET_XMP, comment=b"owner: Zhang Wei 13800000004")
    assert b"GPSLatitude" in data and b"Huawei" in data  # the input really carries them
    result = process(data)
    for output in (result.display, result.thumb):
        image = opened(output)
        exif = image.getexif()
        assert ExifTags.IFD.GPSInfo not in exif
        assert set(exif) == {ExifTags.IFD.Exif}  # no Make, Model, Artist, Orientation …
        assert dict(exif.get_ifd(ExifTags.IFD.Exif)) == {ExifTags.Base.DateTimeOriginal: "2026:03:14 09:26:53"}
        assert "xmp" not in image.info and "comment" not in image.info
        for secret in (b"GPSLatitude", b"31,13.1234N", b"Huawei", b"Mate 60", b"Zhang Wei", b"SN-123456"):
            assert secret not in output
    # Shanghai wall-clock time (no offset in the file) stored as UTC.
    assert result.taken_at == datetime(2026, 3, 14, 1, 26, 53)


def test_capture_time_honours_the_offset_the_phone_wrote():
    data = pictures.jpeg(exif=pictures.phone_exif(taken="2026:03:14 09:26:53", offset="+02:00"))
    assert process(data).taken_at == datetime(2026, 3, 14, 7, 26, 53)


def test_capture_time_falls_back_to_datetime():
    data = pictures.jpeg(exif=pictures.phone_exif(taken="2025:12:31 23:59:59", taken_tag=ExifTags.Base.DateTime))
    assert process(data).taken_at == datetime(2025, 12, 31, 15, 59, 59)


@pytest.mark.parametrize("taken", ["0000:00:00 00:00:00", "garbage", "    :  :     :  :  "])
def test_a_nonsense_capture_time_is_ignored(taken):
    result = process(pictures.jpeg(exif=pictures.phone_exif(taken=taken)))
    assert result.taken_at is None
    assert ExifTags.IFD.Exif not in opened(result.display).getexif()


def test_a_photo_without_exif_gets_none():
    result = process(pictures.jpeg())
    assert result.taken_at is None
    assert not opened(result.display).getexif()


def test_png_transparency_is_flattened_on_white():
    result = process(pictures.png_with_transparency(), "logo.png")
    assert result.source_format == "PNG"
    display = opened(result.display)
    assert display.mode == "RGB"
    assert close_to(colour_at(display, 0.1, 0.1), (255, 255, 255), 8)
    assert close_to(colour_at(display, 0.5, 0.5), (255, 0, 0), 20)


def test_palette_png_with_a_transparent_colour_is_flattened_on_white():
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (10, 10, 30, 30))
    data = pictures.encode(image, "PNG", transparency=0)
    display = opened(process(data, "plan.png").display)
    assert close_to(colour_at(display, 0.05, 0.05), (255, 255, 255), 8)
    assert close_to(colour_at(display, 0.5, 0.5), (255, 0, 0), 20)


def test_webp_is_accepted():
    result = process(pictures.encode(pictures.quadrants((300, 200)), "WEBP", quality=90), "mockup.webp")
    assert (result.source_format, result.width, result.height) == ("WEBP", 300, 200)


def test_heic_from_an_iphone_is_accepted():
    result = process(pictures.heic(pictures.quadrants((640, 320))), "IMG_0001.HEIC", display_box=(400, 300))
    assert (result.source_format, result.width, result.height) == ("HEIF", 400, 200)
    display = opened(result.display)
    assert close_to(colour_at(display, 0.25, 0.25), pictures.RED)
    assert close_to(colour_at(display, 0.75, 0.75), pictures.YELLOW)


def test_an_upright_heic_is_turned_once_not_twice_and_loses_its_metadata():
    # libheif applies the HEIF's own rotation and pillow_heif then resets the EXIF orientation to 1.
    source = pictures.quadrants((128, 64))
    data = pictures.encode(source, "HEIF", quality=90, exif=pictures.phone_exif(orientation=6))
    assert b"Huawei" in data
    result = process(data, "IMG_0002.HEIC")
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(pictures.jpeg(source,
                                                                            exif=pictures.phone_exif(orientation=6)))))
    display = opened(result.display)
    assert display.size == expected.size == (64, 128)
    for x, y in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        assert close_to(colour_at(display, x, y), colour_at(expected, x, y)), (x, y)
    assert b"Huawei" not in result.display and ExifTags.IFD.GPSInfo not in display.getexif()
    assert result.taken_at == datetime(2026, 3, 14, 1, 26, 53)


def test_a_jpeg_with_extra_pictures_inside_counts_as_jpeg():
    buffer = io.BytesIO()
    pictures.quadrants((200, 100)).save(buffer, "MPO", save_all=True,
                                          append_images=[pictures.quadrants((200, 100))])
    result = process(buffer.getvalue(), "samsung.jpg")
    assert (result.source_format, result.width) == ("JPEG", 200)


def test_greyscale_and_cmyk_jpegs_come_out_rgb():
    for mode in ("L", "CMYK"):
        result = process(pictures.jpeg(pictures.gradient((100, 80)).convert(mode)))
        assert opened(result.display).mode == "RGB"


def test_a_16_bit_grey_png_is_scaled_to_8_bits_not_clipped_white():
    grey = Image.new("L", (40, 40), 128).convert("I").point(lambda value: value * 256)  # 32768 of 65535
    data = pictures.encode(grey.convert("I;16"), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    display = opened(process(data, "scan.png").display)
    assert close_to(colour_at(display, 0.5, 0.5), (128, 128, 128), 4)


def test_an_rgb_colour_profile_is_kept_and_a_cmyk_one_is_not():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    result = process(pictures.jpeg(icc_profile=srgb))
    assert opened(result.display).info.get("icc_profile") == srgb
    fake_cmyk = srgb[:16] + b"CMYK" + srgb[20:]
    result = process(pictures.jpeg(pictures.gradient((50, 50)).convert("CMYK"), icc_profile=fake_cmyk))
    assert "icc_profile" not in opened(result.display).info


def test_a_png_renamed_jpg_is_judged_by_its_bytes():
    data = pictures.encode(pictures.quadrants((120, 60)), "PNG")
    result = process(data, "signboard.jpg")
    assert result.source_format == "PNG"
    assert opened(result.display).size == (120, 60)


def test_the_same_upload_gives_the_same_result():
    data = pictures.jpeg(pictures.gradient((900, 700)), exif=pictures.phone_exif())
    assert process(data) == process(data)


# --- Refused files --------------------------------------------------------------------------------


def refusal(data: bytes, filename: str, **options) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        process(data, filename, **options)
    error = caught.value
    assert error.filename == filename
    assert str(error).startswith(f"{filename}: ")  # the message names the file
    return error


@pytest.mark.parametrize("bomb", [pictures.bomb_png, pictures.bomb_jpeg], ids=["png", "jpeg"])
def test_a_decompression_bomb_is_refused_from_its_header_fast(bomb, monkeypatch):
    data = bomb()
    assert len(data) < 2000  # 400 megapixels claimed, nothing on disk

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(JpegImageFile, "load", no_decoding, raising=False)
    started = time.perf_counter()
    error = refusal(data, "bomb.png")
    assert time.perf_counter() - started < 0.05
    assert error.reason == "too_many_pixels"
    assert str(error) == "bomb.png: the picture is too large (more than 50 megapixels)."


def test_a_picture_over_our_limit_but_under_pillows_is_refused_too():
    error = refusal(pictures.bomb_png(8000, 8000), "big.png")  # 64 megapixels > 50, < Pillow's 89
    assert error.reason == "too_many_pixels"


def test_the_pixel_limit_is_configurable():
    assert refusal(pictures.jpeg(pictures.quadrants((200, 100))), "a.jpg", max_pixels=10_000).reason == \
        "too_many_pixels"


def test_a_truncated_jpeg_is_refused():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    error = refusal(pictures.truncated_jpeg(), "cut.jpg")
    assert error.reason == "damaged"
    assert "damaged or incomplete" in str(error)


def test_a_truncated_heic_is_refused():
    data = pictures.heic(pictures.gradient((256, 256)))
    assert refusal(data[: len(data) * 9 // 10], "cut.heic").reason == "damaged"


def test_broken_truncation_switch_is_caught(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        process(pictures.jpeg())


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (pictures.HTML_PAGE, "photo.jpg"),
        (pictures.SVG, "signboard.svg"),
        (pictures.SVG, "signboard.jpg"),
        (pictures.gif(), "animation.gif"),
        (pictures.gif(), "renamed.jpg"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "quote.pdf"),
        (b"\xff\xd8\xff\xe0 not really a jpeg", "fake.jpg"),
    ],
    ids=["html-as-jpg", "svg", "svg-as-jpg", "gif", "gif-as-jpg", "pdf", "jpeg-magic-only"],
)
def test_files_that_are_not_photos_are_refused(data, filename):
    error = refusal(data, filename)
    assert error.reason == "not_a_photo"
    assert str(error) == f"{filename}: this is not a photo in a supported format (JPEG, PNG, WebP or HEIC)."


def test_an_empty_file_is_refused():
    assert refusal(b"", "empty.jpg").reason == "empty"


def test_a_file_over_the_byte_limit_is_refused_before_it_is_parsed():
    error = refusal(b"\xff\xd8" + b"\0" * (5 * 1048576), "huge.jpg", max_bytes=5 * 1048576)
    assert error.reason == "too_large"
    assert str(error) == "huge.jpg: the file is larger than 5 MB."


def test_refusals_name_chinese_filenames_too():
    assert str(refusal(b"", "招牌照片.jpg")) == "招牌照片.jpg: the file is empty."
