"""Test pictures, made in code with Pillow: phone-like JPEGs with EXIF, and the files we must refuse."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

import merchant_alliance.storage.images  # noqa: F401 - registers the HEIF opener used by heic()

RED, BLUE, GREEN, YELLOW = (220, 30, 30), (30, 30, 220), (30, 200, 30), (240, 220, 20)
SECRET_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="31,13.1234N"'
    b' exif:GPSLongitude="121,25.5678E"/></rdf:RDF></x:xmpmeta>'
)


def quadrants(size: tuple[int, int] = (64, 32)) -> Image.Image:
    """Four colours, one per quarter (red, green / blue, yellow), so any turn or flip shows."""
    width, height = size
    image = Image.new("RGB", size, RED)
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    image.paste(YELLOW, (width // 2, height // 2, width, height))
    return image


def gradient(size: tuple[int, int]) -> Image.Image:
    """A smooth picture of any size, quickly (a small gradient stretched)."""
    small = Image.merge("RGB", [Image.linear_gradient("L"), Image.linear_gradient("L").rotate(90),
                                Image.new("L", (256, 256), 128)])
    return small.resize(size, Image.Resampling.BILINEAR)


def phone_exif(*, orientation: int | None = None, taken: str | None = "2026:03:14 09:26:53",
               offset: str | None = None, gps: bool = True, taken_tag: int = ExifTags.Base.DateTimeOriginal) -> bytes:
    """EXIF as a phone writes it: camera, owner, capture time, orientation and the GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Huawei"
    exif[ExifTags.Base.Model] = "Mate 60 Pro"
    exif[ExifTags.Base.Artist] = "Zhang Wei"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.BodySerialNumber] = "SN-123456"
    if taken is not None:
        if taken_tag == ExifTags.Base.DateTime:
            exif[ExifTags.Base.DateTime] = taken
        else:
            details[taken_tag] = taken
    if offset is not None:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps:
        place = exif.get_ifd(ExifTags.IFD.GPSInfo)
        place[ExifTags.GPS.GPSLatitudeRef] = "N"
        place[ExifTags.GPS.GPSLatitude] = (31.0, 13.0, 7.4)
        place[ExifTags.GPS.GPSLongitudeRef] = "E"
        place[ExifTags.GPS.GPSLongitude] = (121.0, 25.0, 34.1)
    return exif.tobytes()


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(image: Image.Image | None = None, **options: object) -> bytes:
    return encode(image or quadrants(), "JPEG", quality=90, **options)


def png_with_transparency() -> bytes:
    """Transparent everywhere except a red square in the middle."""
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (25, 25, 75, 75))
    return encode(image, "PNG")


def heic(image: Image.Image | None = None) -> bytes:
    return encode(image or quadrants((128, 64)), "HEIF", quality=80)


MP48 = (8064, 6048)  # what iPhones (and other flagships) save in their 48-megapixel mode


def quadrants_48mp() -> Image.Image:
    """The four coloured quarters at 48 MP under a faint sensor-like grain (a small noise tile repeated:
    noise over all 48 MP would take seconds to make and x265 half a minute to encode)."""
    grain = Image.effect_noise((1008, 756), 20)
    noise = Image.new("L", MP48)
    for x in range(0, MP48[0], grain.width):
        for y in range(0, MP48[1], grain.height):
            noise.paste(grain, (x, y))
    return Image.blend(quadrants(MP48), Image.merge("RGB", [noise] * 3), 0.05)


def iphone_heic_48mp(picture: Image.Image) -> bytes:
    """A 48 MP photo as an iPhone saves it: 512-pixel HEVC tiles (libheif cannot decode a single HEVC picture
    this large), EXIF orientation 6 stored as the file's own rotation, camera, owner and GPS in the EXIF.
    x265's fastest preset: about 10 seconds."""
    return encode(picture, "HEIF", quality=50, tile_size=512, enc_params={"preset": "ultrafast"},
                  exif=phone_exif(orientation=6))


def truncated_jpeg() -> bytes:
    data = jpeg(gradient((640, 480)))
    return data[: len(data) * 2 // 3]


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A PNG whose header claims `width` × `height` pixels, a few dozen bytes on disk."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def bomb_jpeg(width: int = 20_000, height: int = 20_000) -> bytes:
    """A small real JPEG with the size in its frame header (SOF0) rewritten to `width` × `height`."""
    data = bytearray(jpeg(Image.new("RGB", (16, 16), RED)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


HTML_PAGE = b"<!DOCTYPE html><html><head><title>x</title></head><body><script>alert(1)</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<rect width="10" height="10" fill="red"/></svg>')


def gif() -> bytes:
    return encode(Image.new("P", (10, 10)), "GIF")
