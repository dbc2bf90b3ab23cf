"""The storage backends: one suite, run against the local filesystem and against S3 over HTTP (moto)."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
from botocore.exceptions import EndpointConnectionError

from config import ConfigError, ProductionConfig, TestingConfig
from merchant_alliance import create_app
from merchant_alliance.storage.backends import (
    LocalStorage,
    S3Storage,
    StorageError,
    get_storage,
    storage_from_config,
)
from tests.s3_fixtures import S3_ACCESS_KEY, S3_SECRET_KEY

KEY = "photos/ab/abcdef/display.jpg"
BAD_KEYS = ["", "/etc/passwd", "../outside.jpg", "photos/../../outside.jpg", "photos//x.jpg", "photos\\x.jpg",
            "./x.jpg", "photos/x.jpg/..", "photos/\x00.jpg"]


def fetch(url: str) -> tuple[int, bytes, Message]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a test server's URL
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


# --- The shared contract -------------------------------------------------------------------------


def test_put_get_exists_delete(storage):
    assert not storage.exists(KEY)
    assert storage.put(KEY, b"\xff\xd8 picture", "image/jpeg") is True
    assert storage.exists(KEY)
    assert storage.get(KEY) == b"\xff\xd8 picture"
    storage.delete(KEY)
    assert not storage.exists(KEY)


def test_a_second_put_of_the_same_key_writes_nothing(storage):
    assert storage.put(KEY, b"first", "image/jpeg") is True
    assert storage.put(KEY, b"first", "image/jpeg") is False
    assert storage.put(KEY, b"different bytes", "image/jpeg") is False  # keys are content-addressed
    assert storage.get(KEY) == b"first"


def test_reading_a_missing_object_raises_storage_error(storage):
    with pytest.raises(StorageError, match="photos/none.jpg"):
        storage.get("photos/none.jpg")


def test_deleting_a_missing_object_is_not_an_error(storage):
    storage.put("photos/kept.jpg", b"kept", "image/jpeg")
    storage.delete("photos/none.jpg")  # never there: no error
    assert not storage.exists("photos/none.jpg")
    storage.put(KEY, b"x", "image/jpeg")
    storage.delete(KEY)
    storage.delete(KEY)  # gone already: no error either
    assert not storage.exists(KEY)
    assert storage.get("photos/kept.jpg") == b"kept"  # and nothing else went with it


def test_keys_are_independent(storage):
    storage.put("photos/a/display.jpg", b"display", "image/jpeg")
    storage.put("photos/a/thumb.jpg", b"thumb", "image/jpeg")
    storage.delete("photos/a/display.jpg")
    assert storage.get("photos/a/thumb.jpg") == b"thumb"


def test_empty_objects_round_trip(storage):
    assert storage.put("files/empty.txt", b"", "text/plain") is True
    assert storage.get("files/empty.txt") == b""


def test_listing_tells_every_object_under_a_folder_with_its_size_and_age(storage):
    """What the sweeps for leftover files read: each object under a prefix, how big, when written."""
    before = datetime.now(UTC) - timedelta(seconds=5)
    storage.put("photos/ab/x/display.jpg", b"display", "image/jpeg")
    storage.put("photos/ab/x/thumb.jpg", b"th", "image/jpeg")
    storage.put("files/other.txt", b"elsewhere", "text/plain")
    listed = sorted(storage.list("photos/"), key=lambda item: item.key)
    assert [(item.key, item.size) for item in listed] == [("photos/ab/x/display.jpg", 7), ("photos/ab/x/thumb.jpg", 2)]
    assert all(before <= item.modified <= datetime.now(UTC) + timedelta(seconds=5) for item in listed)
    assert {item.key for item in storage.list()} == {"photos/ab/x/display.jpg", "photos/ab/x/thumb.jpg",
                                                      "files/other.txt"}
    assert list(storage.list("nothing/")) == []


@pytest.mark.parametrize("key", BAD_KEYS)
def test_every_backend_refuses_malformed_keys_alike(storage, key):
    for call in (lambda: storage.put(key, b"x", "image/jpeg"), lambda: storage.get(key),
                 lambda: storage.exists(key), lambda: storage.delete(key), lambda: storage.url(key, 60)):
        with pytest.raises(StorageError):
            call()


# --- Local filesystem ----------------------------------------------------------------------------


def test_local_files_live_under_the_root_and_are_served_by_the_app(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.put(KEY, b"bytes", "image/jpeg")
    assert storage.path(KEY) == tmp_path.resolve() / KEY
    assert (tmp_path / KEY).read_bytes() == b"bytes"
    assert storage.url(KEY, 300) is None  # the app serves it, after its access check


def test_local_write_leaves_no_temporary_file(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.put(KEY, b"bytes", "image/jpeg")
    assert sorted(p.name for p in (tmp_path / KEY).parent.iterdir()) == ["display.jpg"]


def test_a_failed_local_write_leaves_neither_the_file_nor_its_temporary(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(StorageError, match="No space left"):
        storage.put(KEY, b"bytes", "image/jpeg")
    assert not storage.exists(KEY)
    assert list((tmp_path / KEY).parent.iterdir()) == []


def test_a_symlink_cannot_lead_out_of_the_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "photos").symlink_to(outside)
    storage = LocalStorage(root)
    with pytest.raises(StorageError, match="outside"):
        storage.get("photos/secret.txt")
    with pytest.raises(StorageError):
        storage.put("photos/planted.jpg", b"x", "image/jpeg")
    assert not (outside / "planted.jpg").exists()


def test_local_io_errors_become_storage_errors(tmp_path):
    (tmp_path / "photos").write_text("a file where a folder should be")
    storage = LocalStorage(tmp_path)
    with pytest.raises(StorageError):
        storage.put("photos/x/display.jpg", b"x", "image/jpeg")


# --- S3 ------------------------------------------------------------------------------------------


@pytest.fixture
def s3(s3_settings) -> S3Storage:
    storage = storage_from_config(s3_settings)
    assert isinstance(storage, S3Storage)
    return storage


def test_s3_presigned_url_fetches_the_object_with_its_type(s3):
    s3.put(KEY, b"\xff\xd8 picture", "image/jpeg")
    status, body, headers = fetch(s3.url(KEY, 300))
    assert (status, body) == (200, b"\xff\xd8 picture")
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Cache-Control"] == "private, max-age=300"


def test_s3_bucket_itself_is_not_readable_without_a_signature(s3, s3_settings):
    s3.put(KEY, b"picture", "image/jpeg")
    plain = urlunsplit(urlsplit(s3.url(KEY, 300))._replace(query=""))
    assert plain == f"{s3_settings['S3_ENDPOINT_URL']}/{s3_settings['S3_BUCKET']}/{KEY}"  # path-style


def test_s3_presigned_url_is_signed_and_expires(s3):
    """moto does not check X-Amz-Expires (moto 5.2.5 never reads it: an expired link still returns 200),
    so the expiry is checked here the way S3, OSS, COS and MinIO check it: the signature is recomputed
    from the secret key (SigV4, written out from the AWS specification below) and the link is valid from
    X-Amz-Date for X-Amz-Expires seconds. Tampering with the expiry breaks the signature.
    """
    s3.put(KEY, b"picture", "image/jpeg")
    issued = datetime.now(UTC).replace(tzinfo=None)
    url = s3.url(KEY, 1)
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-Expires"] == "1"
    assert params["X-Amz-Credential"].startswith(f"{S3_ACCESS_KEY}/")
    assert fetch(url)[:2] == (200, b"picture")

    assert sigv4_verdict(url, S3_SECRET_KEY, at=issued) == "valid"
    assert sigv4_verdict(url, S3_SECRET_KEY, at=issued + timedelta(seconds=3)) == "expired"
    assert sigv4_verdict(url, "not-the-secret", at=issued) == "bad signature"
    longer = _with_params(url, {"X-Amz-Expires": "604800"})
    assert sigv4_verdict(longer, S3_SECRET_KEY, at=issued + timedelta(seconds=3)) == "bad signature"
    other_key = url.replace("/display.jpg?", "/thumb.jpg?")
    assert sigv4_verdict(other_key, S3_SECRET_KEY, at=issued) == "bad signature"


def test_s3_prefix_keeps_objects_in_their_folder(s3_settings, s3_admin):
    storage = storage_from_config({**s3_settings, "S3_PREFIX": "/yuyuan/"})
    storage.put(KEY, b"x", "image/jpeg")
    listed = s3_admin.list_objects_v2(Bucket=s3_settings["S3_BUCKET"])
    assert [item["Key"] for item in listed["Contents"]] == [f"yuyuan/{KEY}"]
    assert storage.get(KEY) == b"x"


def test_s3_missing_bucket_is_a_storage_error(s3_settings):
    storage = storage_from_config({**s3_settings, "S3_BUCKET": "no-such-bucket"})
    with pytest.raises(StorageError, match="no-such-bucket"):
        storage.put(KEY, b"x", "image/jpeg")
    with pytest.raises(StorageError):
        storage.get(KEY)


def test_s3_network_failures_are_storage_errors(s3, monkeypatch):
    def unreachable(**kwargs):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    for method in ("get_object", "put_object", "head_object", "delete_object"):
        monkeypatch.setattr(s3.client, method, unreachable)
    for call in (lambda: s3.get(KEY), lambda: s3.put(KEY, b"x", "image/jpeg"), lambda: s3.exists(KEY),
                 lambda: s3.delete(KEY)):
        with pytest.raises(StorageError, match="Could not connect"):
            call()


def test_s3_addressing_style_is_path_for_endpoints_and_configurable(s3_settings):
    virtual = storage_from_config({**s3_settings, "S3_ENDPOINT_URL": "https://s3.oss-cn-shanghai.aliyuncs.com",
                                   "S3_REGION": "cn-shanghai", "S3_ADDRESSING_STYLE": "virtual"})
    assert virtual.url_origin() == f"https://{s3_settings['S3_BUCKET']}.s3.oss-cn-shanghai.aliyuncs.com"
    path = storage_from_config({**s3_settings, "S3_ENDPOINT_URL": "https://minio.internal:9000"})
    assert path.url_origin() == "https://minio.internal:9000"


# --- Choosing a backend --------------------------------------------------------------------------


def test_configuration_chooses_the_backend(tmp_path, s3_settings):
    assert isinstance(storage_from_config({"STORAGE_BACKEND": "local", "STORAGE_LOCAL_ROOT": str(tmp_path)}),
                      LocalStorage)
    assert isinstance(storage_from_config(s3_settings), S3Storage)
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        storage_from_config({**s3_settings, "S3_BUCKET": ""})
    with pytest.raises(ConfigError, match="STORAGE_BACKEND"):
        storage_from_config({"STORAGE_BACKEND": "ftp"})
    with pytest.raises(ConfigError, match="STORAGE_LOCAL_ROOT"):
        storage_from_config({"STORAGE_BACKEND": "local", "STORAGE_LOCAL_ROOT": ""})


def test_each_test_app_gets_its_own_file_directory():
    first, second = create_app(TestingConfig), create_app(TestingConfig)
    roots = {first.config["STORAGE_LOCAL_ROOT"], second.config["STORAGE_LOCAL_ROOT"]}
    assert len(roots) == 2
    with first.app_context():
        assert get_storage() is get_storage() is first.extensions["storage"]
        assert get_storage().root == LocalStorage(first.config["STORAGE_LOCAL_ROOT"]).root


def test_the_default_root_is_the_instance_folder():
    # Configuration is read at import: ask a fresh interpreter whose environment does not set it.
    env = {k: v for k, v in os.environ.items() if k not in ("STORAGE_LOCAL_ROOT", "INSTANCE_PATH")}
    root = subprocess.run(
        [sys.executable, "-c", "import config; print(config.ProductionConfig.STORAGE_LOCAL_ROOT)"],
        env=env, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert root == str(Path(__file__).resolve().parents[2] / "instance" / "files")


def test_production_refuses_s3_without_a_bucket(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:p@db/alliance")
    monkeypatch.setenv("EXTERNAL_URL", "https://yuyuan.example.cn")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    monkeypatch.delenv("S3_BUCKET", raising=False)
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        ProductionConfig.check()
    monkeypatch.setenv("S3_BUCKET", "yuyuan-photos")
    ProductionConfig.check()


def test_photos_from_s3_are_allowed_by_the_content_security_policy(s3_app, s3_settings):
    policy = s3_app.test_client().get("/").headers["Content-Security-Policy"]
    assert f"img-src 'self' data: blob: {s3_settings['S3_ENDPOINT_URL']};" in policy


# --- An independent SigV4 presigned-URL check (AWS "Authenticating requests: query parameters") ---


def sigv4_verdict(url: str, secret_key: str, *, at: datetime) -> str:
    """"valid", "expired" or "bad signature": what a conforming S3 server would decide at time `at`."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    given = dict(params)
    signature = given.pop("X-Amz-Signature")
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(given.items())
    )
    canonical_request = "\n".join([
        "GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD",
    ])
    scope = given["X-Amz-Credential"].split("/", 1)[1]
    date, region, service, _ = scope.split("/")
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", given["X-Amz-Date"], scope, hashlib.sha256(canonical_request.encode()).hexdigest(),
    ])
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "bad signature"
    signed_at = datetime.strptime(given["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    if at > signed_at + timedelta(seconds=int(given["X-Amz-Expires"])):
        return "expired"
    return "valid"


def _with_params(url: str, changes: dict[str, str]) -> str:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    params.update(changes)
    return urlunsplit(parts._replace(query=urlencode(params, quote_via=quote)))
