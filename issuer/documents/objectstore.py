"""Where document bytes live: a local folder (the default) or an S3-compatible bucket. Keys are
content addresses ("sha256/<hex>"), so a put of bytes already there changes nothing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from infra.files import private_dir


class ObjectMissing(Exception):
    pass


class ObjectStoreError(Exception):
    """The store did not answer as it should (network, permissions)."""


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, media_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...


class FolderStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        algorithm, _, digest = key.partition("/")
        return self.root / algorithm / digest[:2] / digest

    def put(self, key: str, data: bytes, media_type: str) -> None:
        path = self._path(key)
        if path.exists():
            return
        private_dir(path.parent)
        # Written aside and renamed: a reader never sees half a document, a crash leaves none.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(key) from None


class S3Store:
    """An S3 bucket (AWS, MinIO, Ceph, or moto's server in the tests). Credentials come from the
    usual AWS variables or instance role, never from dbp's settings."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, media_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=media_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"S3 put of {key} failed: {exc}") from None

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from None
            raise ObjectStoreError(f"S3 get of {key} failed: {exc}") from None
        except BotoCoreError as exc:
            raise ObjectStoreError(f"S3 get of {key} failed: {exc}") from None


def open_store(url: str, *, s3_endpoint_url: str | None = None) -> ObjectStore:
    """`file:///path` or a plain path: a folder; `s3://bucket/prefix`: a bucket."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        return S3Store(parts.netloc, parts.path, s3_endpoint_url)
    if parts.scheme in ("", "file"):
        return FolderStore(Path(parts.path if parts.scheme else url))
    raise ValueError(f"document store {url!r}: use a folder path, file:///path or s3://bucket")
