"""S3 fixtures for any test: a real S3 endpoint over HTTP (moto's server), each backend, an app on S3."""

from __future__ import annotations

import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.extensions import db, limiter
from merchant_alliance.storage.backends import LocalStorage, Storage, storage_from_config
from tests import factories

S3_ACCESS_KEY = "test-access-key"
S3_SECRET_KEY = "test-secret-key"
S3_REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """moto's S3 server on a free local port, for the whole session: boto3 talks real HTTP to it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_admin(s3_endpoint: str):
    """A plain boto3 client for the test server, to set up buckets and look inside them."""
    return boto3.session.Session().client(
        "s3", endpoint_url=s3_endpoint, region_name=S3_REGION,
        aws_access_key_id=S3_ACCESS_KEY, aws_secret_access_key=S3_SECRET_KEY,
    )


@pytest.fixture
def s3_settings(s3_endpoint: str, s3_admin) -> dict[str, str]:
    """Configuration for a fresh, empty bucket of this test's own."""
    bucket = f"photos-{uuid.uuid4().hex[:16]}"
    s3_admin.create_bucket(Bucket=bucket)
    return {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": s3_endpoint,
        "S3_REGION": S3_REGION,
        "S3_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
    }


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path) -> Storage:
    """Each backend in turn: the same tests must pass on both."""
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    return storage_from_config(request.getfixturevalue("s3_settings"))


@pytest.fixture
def s3_app(s3_settings: dict[str, str]):
    """The app with S3 storage, on in-memory SQLite (the database is not what these tests are about)."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://", **s3_settings)
    with app.app_context():
        db.create_all()
        limiter.reset()
        factories.bind(db.session)
        yield app
        db.session.remove()
        db.engine.dispose()
