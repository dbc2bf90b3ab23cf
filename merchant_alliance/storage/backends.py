"""Where photos and files live: one interface, a local-filesystem backend and an S3-compatible one.

Keys are relative POSIX paths such as ``photos/ab/ab12…/display.jpg``. Both backends take the same
arguments, refuse the same malformed keys, and raise `StorageError`, and only that, when the store
fails, so code tested against the local backend behaves the same on S3.

`put` never overwrites: it says whether it wrote a new object. `list` tells what is stored and when it
was last written, for the sweeps that find objects no record refers to (`flask storage gc`, `flask doctor`).
"""

from __future__ import annotations

import abc
import contextlib
import functools
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore import UNSIGNED
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app

from config import ConfigError


class StorageError(Exception):
    """The store could not do what was asked: no such object, a malformed key, a disk, network or
    permission failure. The message names the backend and the key."""


@dataclass(frozen=True)
class StoredObject:
    """One object as the store lists it."""

    key: str
    size: int
    modified: datetime  # when it was written, timezone-aware UTC


def check_key(key: str) -> str:
    """`key` when it is a plain relative path ("a/b.jpg"); StorageError for "", "/x", "a/../b", "a\\b"."""
    if (
        not isinstance(key, str) or not key or key.startswith("/") or "\\" in key or "\x00" in key
        or any(part in ("", ".", "..") for part in key.split("/"))
    ):
        raise StorageError(f"invalid storage key {key!r}")
    return key


class Storage(abc.ABC):
    """A flat store of immutable objects addressed by key."""

    name: str

    @abc.abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> bool:
        """Store `data` under `key`. True if a new object was written, False if the key already existed."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; StorageError when there is none."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error when it is already gone."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object whose key starts with `prefix` (a folder such as "photos/"), in no set order."""

    @abc.abstractmethod
    def url(self, key: str, expires_in: int) -> str | None:
        """A URL a browser may fetch the object from for `expires_in` seconds, or None: the app serves it."""

    def url_origin(self) -> str | None:
        """The scheme://host[:port] that `url()` points at (for the Content-Security-Policy), if any."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class LocalStorage(Storage):
    """Files under one directory (by default `instance/files`), served by the app after an access check."""

    name = "local"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        """The file that holds `key`. Refuses any key that would lead outside the root."""
        path = self.root / check_key(key)
        # A symlink planted inside the root must not lead out of it either.
        if not path.resolve().is_relative_to(self.root):
            raise StorageError(f"storage key {key!r} leads outside {self.root}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> bool:
        path = self.path(key)
        if path.exists():
            return False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written beside the target, then renamed over it: a reader sees the whole file or none.
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
            try:
                with os.fdopen(descriptor, "wb") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as error:
            raise StorageError(f"local: could not write {key!r}: {error}") from error
        return True

    def get(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise StorageError(f"local: no object {key!r}") from None
        except OSError as error:
            raise StorageError(f"local: could not read {key!r}: {error}") from error

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        path = self.path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"local: could not delete {key!r}: {error}") from error

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        start = self.path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        try:
            for folder, _dirs, files in os.walk(start):
                for name in files:
                    path = Path(folder) / name
                    with contextlib.suppress(FileNotFoundError):  # deleted while we walked
                        stat = path.stat()
                        yield StoredObject(path.relative_to(self.root).as_posix(), stat.st_size,
                                           datetime.fromtimestamp(stat.st_mtime, UTC))
        except OSError as error:
            raise StorageError(f"local: could not list {prefix!r}: {error}") from error

    def url(self, key: str, expires_in: int) -> str | None:
        check_key(key)
        return None


class S3Storage(Storage):
    """Objects in a bucket of any S3-compatible store: AWS S3, Aliyun OSS, Tencent COS, MinIO, Ceph RGW.

    Browsers get short-lived presigned GET URLs; the bucket itself stays private. The credentials need
    s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket (without ListBucket, S3 answers
    "forbidden" rather than "not found" for a missing key, and `exists`/`put` cannot tell the two apart).
    """

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
        addressing_style: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        # Path-style suits MinIO, Ceph and most self-hosted stores; Aliyun OSS and Tencent COS want
        # "virtual" (bucket as a subdomain), which S3_ADDRESSING_STYLE selects.
        style = addressing_style or ("path" if endpoint_url else "auto")
        config = BotoConfig(
            signature_version="s3v4",
            s3={"addressing_style": style},
            # boto3 ≥ 1.36 adds CRC checksums (and aws-chunked uploads) by default, which several
            # S3-compatible stores reject; send and check them only where the API requires it.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        self._client_options: dict[str, Any] = {
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "aws_access_key_id": access_key or None,
            "aws_secret_access_key": secret_key or None,
        }
        self.client = _s3_client(config=config, **self._client_options)
        self._config = config

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _fail(self, doing: str, key: str, error: Exception) -> StorageError:
        return StorageError(f"s3: could not {doing} {key!r} in bucket {self.bucket!r}: {error}")

    def put(self, key: str, data: bytes, content_type: str) -> bool:
        if self.exists(key):
            return False
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)
        except (BotoCoreError, ClientError) as error:
            raise self._fail("write", key, error) from error
        return True

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            with contextlib.closing(response["Body"]) as body:
                return body.read()
        except (BotoCoreError, ClientError) as error:
            raise self._fail("read", key, error) from error

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if _error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail("look up", key, error) from error
        except BotoCoreError as error:
            raise self._fail("look up", key, error) from error
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if _error_code(error) not in ("404", "NoSuchKey", "NotFound"):
                raise self._fail("delete", key, error) from error
        except BotoCoreError as error:
            raise self._fail("delete", key, error) from error

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield StoredObject(item["Key"][len(self.prefix):], int(item["Size"]), item["LastModified"])
        except (BotoCoreError, ClientError) as error:
            raise self._fail("list", prefix, error) from error

    def url(self, key: str, expires_in: int) -> str | None:
        try:
            return self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self._key(key),
                    # The browser may keep what it fetched for as long as the link was valid.
                    "ResponseCacheControl": f"private, max-age={int(expires_in)}",
                },
                ExpiresIn=int(expires_in),
            )
        except (BotoCoreError, ClientError) as error:
            raise self._fail("sign a link to", key, error) from error

    def url_origin(self) -> str | None:
        # An unsigned twin of the client builds the same URL without needing credentials at start-up.
        unsigned = _s3_client(config=self._config.merge(BotoConfig(signature_version=UNSIGNED)),
                              **self._client_options)
        url = unsigned.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self.prefix + "x"})
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"


_client_lock = threading.Lock()


@functools.cache
def _boto_session() -> boto3.session.Session:
    return boto3.session.Session()


def _s3_client(**options: Any) -> Any:
    """A new S3 client. One shared session keeps the service model loaded once (a new session costs a
    quarter of a second); making clients from it is not thread-safe, using them afterwards is."""
    with _client_lock:
        return _boto_session().client("s3", **options)


def _error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def storage_from_config(config: Mapping[str, Any]) -> Storage:
    """The backend the configuration asks for (STORAGE_BACKEND: local or s3)."""
    backend = str(config.get("STORAGE_BACKEND") or "local").strip().lower()
    if backend == "local":
        root = config.get("STORAGE_LOCAL_ROOT")
        if not root:
            raise ConfigError("STORAGE_LOCAL_ROOT must name a directory for the local storage backend")
        return LocalStorage(Path(root))
    if backend == "s3":
        if not config.get("S3_BUCKET"):
            raise ConfigError("S3_BUCKET must be set when STORAGE_BACKEND=s3")
        return S3Storage(
            config["S3_BUCKET"],
            endpoint_url=config.get("S3_ENDPOINT_URL") or None,
            region=config.get("S3_REGION") or None,
            access_key=config.get("S3_ACCESS_KEY_ID") or None,
            secret_key=config.get("S3_SECRET_ACCESS_KEY") or None,
            prefix=config.get("S3_PREFIX") or "",
            addressing_style=config.get("S3_ADDRESSING_STYLE") or None,
        )
    raise ConfigError(f"Unknown STORAGE_BACKEND {backend!r}; use local or s3")


def get_storage() -> Storage:
    """The current app's storage, built from its configuration once and kept in app.extensions."""
    storage = current_app.extensions.get("storage")
    if storage is None:
        storage = current_app.extensions["storage"] = storage_from_config(current_app.config)
    return storage
