"""The image pipeline: every uploaded photo is checked and re-encoded here before it is stored.

The real format is sniffed from the bytes, never taken from the filename or the browser's content type.
A decompression bomb is refused from its header, before a single pixel is decoded. The EXIF
orientation is applied and every piece of metadata (GPS, camera, owner, XMP, comments) is dropped by
re-encoding; only the capture time is kept, and written back as a bare EXIF DateTimeOriginal.

Speed (DESIGN.md, "Figures we hold ourselves to"): a JPEG is decoded with `draft()` straight to the
display size (libjpeg scales the DCT by 1/2, 1/4 or 1/8, which is much cheaper than decoding all 12
megapixels and shrinking them), then resized once, rotated at the small size, and the thumbnail is made
from the display image rather than from the original.

Memory: a HEIF (libheif decodes it whole; there is no draft) is never copied whole into Pillow, but
shrunk band by band from libheif's own buffer (`_heif_display`): a 48 MP iPhone photo takes about
210 MB at its peak instead of 340 MB, a 48 MP JPEG (decoded by draft at a quarter) about 30 MB.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import pillow_heif
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from merchant_alliance.errors import DomainError

# HEIC/HEIF is what iPhones save by default. Registered once, when this module is first imported.
# Embedded thumbnails, depth maps and auxiliary images are never used here, so libheif skips them.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# Pillow's format names. Image.open() tries only these openers: a GIF, an SVG or an HTML page is
# "not an image" however it is named. (A phone JPEG with extra pictures inside opens as "MPO".)
OPENERS = ["JPEG", "PNG", "WEBP", "HEIF"]
FORMAT_NAMES = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "HEIF": "HEIF"}

JPEG_QUALITY = 82
# The display step (after draft: 2000×1500 → 1600×1200 for a 12 MP photo) is, after decoding, the
# costliest step. For a reduction under 2× the box filter is area averaging, the right thing for a
# downscale, and a quarter cheaper than Hamming (31 vs 41 ms; bicubic 65 ms): that is what keeps
# ingest under 1.5× a plain decode. Pictures that draft did not shrink (PNG, WebP, HEIC) are first
# reduced by whole-pixel averaging (Image.reduce) to twice the box.
DISPLAY_RESAMPLE = Image.Resampling.BOX
DISPLAY_REDUCING_GAP = 2.0
# The thumbnail is a fifth of the display: averaging whole 5×5 blocks (Image.reduce) is exact area
# sampling, as good as resampling at that size and three times cheaper.
THUMB_RESAMPLE = Image.Resampling.BICUBIC
THUMB_REDUCING_GAP = 1.0
# A HEIF is shrunk from libheif's buffer this many bytes of it at a time (see _heif_display).
HEIF_BAND_BYTES = 4 * 1024 * 1024
# Phones write the capture time as local wall-clock time, usually without an offset; the platform
# serves Shanghai streets, so that is the zone assumed when the file does not say.
CAMERA_TIMEZONE: tzinfo = ZoneInfo("Asia/Shanghai")
EXIF_TIME_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M:%S.%f")

# What a damaged file makes Pillow (and pillow_heif, libheif) raise while decoding.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)
# What a malformed EXIF block makes Pillow raise; a photo with broken EXIF is still a photo.
EXIF_ERRORS = (SyntaxError, ValueError, TypeError, KeyError, IndexError, EOFError, struct.error, OSError)

# EXIF orientation → the transpose that shows the picture upright (the same table as ImageOps.exif_transpose).
ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

EMPTY = _l("%(file)s: the file is empty.")
TOO_LARGE = _l("%(file)s: the file is larger than %(limit)s MB.")
NOT_A_PHOTO = _l("%(file)s: this is not a photo in a supported format (JPEG, PNG, WebP or HEIC).")
TOO_MANY_PIXELS = _l("%(file)s: the picture is too large (more than %(limit)s megapixels).")
DAMAGED = _l("%(file)s: the photo is damaged or incomplete. Please choose it again.")


class ImageRejected(DomainError):
    """An uploaded file is not a photo we accept. The message names the file and says why.

    `reason` is a stable code for programs: empty, too_large, not_a_photo, too_many_pixels, damaged.
    """

    def __init__(self, message: str | LazyString, *, file: str, reason: str, **params: object) -> None:
        super().__init__(message, file=file, **params)
        self.filename = file
        self.reason = reason


@dataclass
class ProcessedImage:
    """A photo ready to store: both JPEG sizes, their dimensions, and what was learnt from the original."""

    sha256: str  # of the original bytes: the same upload is stored once
    display: bytes
    thumb: bytes
    width: int
    height: int
    thumb_width: int
    thumb_height: int
    source_format: str  # the real format: JPEG, PNG, WEBP or HEIF
    taken_at: datetime | None  # naive UTC, like every datetime in the database


def process_image(
    data: bytes,
    filename: str,
    *,
    max_bytes: int,
    max_pixels: int,
    display_box: tuple[int, int] = (1600, 1200),
    thumb_box: tuple[int, int] = (320, 320),
) -> ProcessedImage:
    """Validate an uploaded photo and make its display and thumbnail JPEGs; raise ImageRejected if refused.

    The boxes give the long and the short edge; a portrait photo gets the box turned upright.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # a global someone else may flip; it would let broken files in
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    if not data:
        raise ImageRejected(EMPTY, file=filename, reason="empty")
    if len(data) > max_bytes:
        raise ImageRejected(TOO_LARGE, file=filename, reason="too_large", limit=f"{max_bytes / 1048576:g}")

    image = _open(data, filename, max_pixels)
    with image:
        source_format = FORMAT_NAMES[image.format or ""]
        # A PNG may keep its EXIF after the pixel data; Pillow would decode everything to find it.
        exif = None if source_format == "PNG" else _exif(image)
        if source_format == "HEIF":
            display = _heif_display(data, filename, display_box)
        else:
            if source_format == "JPEG":
                # The DCT scaling that makes ingest cheap. Asked for the display box itself: draft only
                # shrinks when the request is at most half the original in both directions.
                image.draft("RGB", _box_for(image.size, display_box))
            try:
                image.load()
            except DECODE_ERRORS:
                raise ImageRejected(DAMAGED, file=filename, reason="damaged") from None
            if exif is None:
                exif = _exif(image)
            display = _rgb(image)
            # Resize first, rotate after: turning the display size is cheaper than turning the decoded picture.
            display.thumbnail(_box_for(display.size, display_box), DISPLAY_RESAMPLE,
                              reducing_gap=DISPLAY_REDUCING_GAP)
        orientation = _orientation(exif)
        taken_local = _capture_time(exif)
        icc_profile = _rgb_icc_profile(image.info.get("icc_profile"))

        if orientation in ORIENTATION_TRANSPOSE:
            display = display.transpose(ORIENTATION_TRANSPOSE[orientation])
        if display.mode == "RGBA":
            display = _on_white(display)
        display.info = {}  # nothing of the original's metadata may ride along into the new files

        thumb = display.copy()
        thumb.thumbnail(_box_for(thumb.size, thumb_box), THUMB_RESAMPLE, reducing_gap=THUMB_REDUCING_GAP)

        exif_bytes = _capture_exif(taken_local)
        return ProcessedImage(
            sha256=hashlib.sha256(data).hexdigest(),
            display=_jpeg(display, icc_profile, exif_bytes),
            thumb=_jpeg(thumb, icc_profile, exif_bytes),
            width=display.width,
            height=display.height,
            thumb_width=thumb.width,
            thumb_height=thumb.height,
            source_format=source_format,
            taken_at=_to_utc(taken_local),
        )


def _open(data: bytes, filename: str, max_pixels: int) -> ImageFile.ImageFile:
    """Identify the real format and read the header only; refuse a bomb before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its own limit and twice that; refuse there as well.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=OPENERS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(filename, max_pixels) from None
    except (UnidentifiedImageError, *DECODE_ERRORS):
        raise ImageRejected(NOT_A_PHOTO, file=filename, reason="not_a_photo") from None
    if image.format not in FORMAT_NAMES:  # an opener registered under an accepted name by a plugin
        image.close()
        raise ImageRejected(NOT_A_PHOTO, file=filename, reason="not_a_photo")
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise _too_many_pixels(filename, max_pixels)
    return image


def _too_many_pixels(filename: str, max_pixels: int) -> ImageRejected:
    return ImageRejected(TOO_MANY_PIXELS, file=filename, reason="too_many_pixels", limit=f"{max_pixels / 1e6:g}")


def _box_for(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """`box` turned to match the picture: landscape (long, short) for a wide one, (short, long) for a tall one."""
    long_edge, short_edge = max(box), min(box)
    return (long_edge, short_edge) if size[0] >= size[1] else (short_edge, long_edge)


def _rgb(image: Image.Image) -> Image.Image:
    """The picture as RGB, or RGBA when it has transparency (flattened on white at the display size)."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey: Pillow would clip, not scale
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    return image


def _heif_display(data: bytes, filename: str, display_box: tuple[int, int]) -> Image.Image:
    """Decode a HEIF and shrink it to the display box: the same pixels as `_rgb(image).thumbnail(box, …)`.

    libheif hands the decoded picture over as one buffer of 3 bytes a pixel (146 MB for 48 MP). Loaded
    as a Pillow image it would be copied whole into 4 bytes a pixel (195 MB more): that copy was the
    difference between 210 and 340 MB for a 48 MP HEIC. Instead the buffer is read a band of rows at a
    time and each band reduced (`Image.reduce`, thumbnail's own first step) into the smaller picture at
    once; the buffer is let go before the last resize. No full-size Pillow image ever exists. What is
    left, about 210 MB, is libheif's own peak: the grid's YCbCr picture and its RGB conversion at once.
    """
    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True, remove_stride=False)
        pixels = heif.data  # the decode: a memoryview of libheif's buffer
    except (*DECODE_ERRORS, RuntimeError):
        raise ImageRejected(DAMAGED, file=filename, reason="damaged") from None
    mode, stride, (width, height) = heif.mode, heif.stride, heif.size
    size = _thumbnail_size((width, height), _box_for((width, height), display_box))
    factor = (1, 1)
    if size is not None:  # thumbnail's own reducing step (Image.resize with reducing_gap)
        factor = (int(width / size[0] / DISPLAY_REDUCING_GAP) or 1, int(height / size[1] / DISPLAY_REDUCING_GAP) or 1)
    reduced: Image.Image | None = None
    rows = factor[1] * max(1, HEIF_BAND_BYTES // (stride * factor[1]))  # whole reduce blocks in every band
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        band = _rgb(Image.frombuffer(mode, (width, bottom - top), pixels[top * stride:bottom * stride],
                                     "raw", mode, stride, 1))
        if band.mode == "RGBA" and size is not None:
            band = band.convert("RGBa")  # Image.resize shrinks transparent pictures premultiplied
        if factor != (1, 1):
            band = band.reduce(factor)
        if reduced is None:
            reduced = Image.new(band.mode, (-(-width // factor[0]), -(-height // factor[1])))
        reduced.paste(band, (0, top // factor[1]))
    del pixels, heif  # the full-size frame goes before the last step
    if reduced is None:  # a picture with no rows: libheif would have refused it
        raise ImageRejected(DAMAGED, file=filename, reason="damaged")
    if size is None:
        return reduced
    display = reduced.resize(size, DISPLAY_RESAMPLE, box=(0, 0, width / factor[0], height / factor[1]))
    return display.convert("RGBA") if display.mode == "RGBa" else display


def _thumbnail_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int] | None:
    """The size `Image.thumbnail(box)` gives a picture of `size`; None when it already fits.

    The same rounding as Pillow's (the closest aspect ratio, at least one pixel), so that a HEIF shrunk
    band by band comes out the size every other format does.
    """
    width, height = size
    box_width, box_height = box
    if box_width >= width and box_height >= height:
        return None
    aspect = width / height
    if box_width / box_height >= aspect:
        candidates = (math.floor(box_height * aspect), math.ceil(box_height * aspect))
        return max(min(candidates, key=lambda n: abs(aspect - n / box_height)), 1), box_height
    candidates = (math.floor(box_width / aspect), math.ceil(box_width / aspect))
    return box_width, max(min(candidates, key=lambda n: 0 if n == 0 else abs(aspect - box_width / n)), 1)


def _exif(image: Image.Image) -> Image.Exif | None:
    try:
        return image.getexif()
    except EXIF_ERRORS:
        return None


def _orientation(exif: Image.Exif | None) -> int:
    try:
        value = int(exif.get(ExifTags.Base.Orientation, 1)) if exif is not None else 1
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def _capture_time(exif: Image.Exif | None) -> datetime | None:
    """When the photo was taken, as an aware local time: DateTimeOriginal, else DateTime."""
    if exif is None:
        return None
    try:
        details = exif.get_ifd(ExifTags.IFD.Exif)
    except EXIF_ERRORS:
        details = {}
    candidates = (
        (details.get(ExifTags.Base.DateTimeOriginal), details.get(ExifTags.Base.OffsetTimeOriginal)),
        (exif.get(ExifTags.Base.DateTime), details.get(ExifTags.Base.OffsetTime)),
    )
    for raw, offset in candidates:
        moment = _parse_exif_time(raw, offset)
        if moment is not None:
            return moment
    return None


def _parse_exif_time(raw: object, offset: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    text = raw.strip("\x00 ")
    for fmt in EXIF_TIME_FORMATS:
        try:
            moment = datetime.strptime(text, fmt)  # the zone is attached below
            break
        except ValueError:
            continue
    else:
        return None
    if not (1990 <= moment.year <= datetime.now(UTC).year + 1):  # "0000:00:00", a dead clock battery
        return None
    return moment.replace(tzinfo=_exif_offset(offset) or CAMERA_TIMEZONE)


def _exif_offset(offset: object) -> tzinfo | None:
    """EXIF OffsetTime* is "+08:00" or "-05:00"."""
    if not isinstance(offset, str):
        return None
    text = offset.strip("\x00 ")
    if len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _to_utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment else None


def _capture_exif(moment: datetime | None) -> bytes | None:
    """A minimal EXIF block holding only DateTimeOriginal (the local time, as cameras write it)."""
    if moment is None:
        return None
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = moment.strftime("%Y:%m:%d %H:%M:%S")
    return exif.tobytes()


def _rgb_icc_profile(profile: object) -> bytes | None:
    """Keep an RGB colour profile (Display P3 photos look washed out without it), nothing else.

    A CMYK or grey profile would be wrong once the pixels have been converted to RGB.
    """
    if isinstance(profile, bytes) and len(profile) >= 20 and profile[16:20] == b"RGB ":
        return profile
    return None


def _on_white(image: Image.Image) -> Image.Image:
    background = Image.new("RGB", image.size, "white")
    background.paste(image, mask=image.getchannel("A"))
    return background


def _jpeg(image: Image.Image, icc_profile: bytes | None, exif: bytes | None) -> bytes:
    options: dict[str, object] = {"quality": JPEG_QUALITY}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if exif:
        options["exif"] = exif
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def gps_position(upload) -> tuple[Decimal, Decimal] | None:
    """The position in a photo's EXIF GPS tags (latitude, longitude in degrees), read before the pipeline strips
    them, for a reporter who chose to share where they are; None when it has none or it cannot be read. Reads
    the header only and leaves the upload's stream where it was."""
    stream = upload.stream
    start = stream.tell()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a huge image: only its header is read here, the pipeline judges it
            with Image.open(stream) as image:
                gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        lat, lon = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
    except (*EXIF_ERRORS, *DECODE_ERRORS, Image.DecompressionBombError, UnidentifiedImageError):
        return None
    finally:
        stream.seek(start)
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _degrees(value, ref) -> Decimal | None:
    """EXIF's (degrees, minutes, seconds) and N/S/E/W as signed decimal degrees (6 places)."""
    try:
        degrees, minutes, seconds = (Decimal(str(float(part))) for part in value)
    except (TypeError, ValueError, ArithmeticError):
        return None
    result = degrees + minutes / 60 + seconds / 3600
    if str(ref).strip("\x00 ").upper() in ("S", "W"):
        result = -result
    return result.quantize(Decimal("0.000001"))
