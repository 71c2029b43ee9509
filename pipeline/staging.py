"""The staging object store: raw inputs kept unchanged, addressed by the SHA-256 of their bytes.

Any fsspec URL works: a local folder (the default), `s3://bucket/prefix` through s3fs (with
`storage_options` such as `endpoint_url` for an S3-compatible store). Objects are written once and
never deleted by a run; the same bytes arriving again (a file drop unchanged, a page fetched twice)
are the same object, which is how a rerun recognises unchanged inputs.

Layout: `objects/sha256/<2 hex>/<64 hex><.ext>` for raw inputs, `push/<source>/...` for the
receipts of the push API.
"""

from __future__ import annotations

import hashlib
from typing import Any

import fsspec
import orjson


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ObjectStore:
    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        self.root = self.root.rstrip("/")

    def _full(self, key: str) -> str:
        return f"{self.root}/{key}"

    def uri(self, key: str) -> str:
        """The object's address as a dataset name for lineage (`s3://bucket/prefix/objects/…`)."""
        return f"{self.url}/{key}"

    def put(self, data: bytes, extension: str = "") -> str:
        """Store `data` (once) and return its key."""
        sha = digest(data)
        key = f"objects/sha256/{sha[:2]}/{sha}{extension}"
        self.put_at(key, data, overwrite=False)
        return key

    def put_at(self, key: str, data: bytes, *, overwrite: bool = True) -> None:
        full = self._full(key)
        if not overwrite and self.fs.exists(full):
            return
        parent = full.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        # write to a temporary name and move: a reader never sees half an object
        tmp = f"{full}.part-{digest(data)[:12]}"
        with self.fs.open(tmp, "wb") as handle:
            handle.write(data)
        self.fs.mv(tmp, full)

    def get(self, key: str) -> bytes:
        with self.fs.open(self._full(key), "rb") as handle:
            return handle.read()

    def exists(self, key: str) -> bool:
        return self.fs.exists(self._full(key))

    def get_json(self, key: str) -> Any:
        return orjson.loads(self.get(key))

    def put_json_at(self, key: str, value: Any) -> None:
        self.put_at(key, orjson.dumps(value, option=orjson.OPT_SORT_KEYS))

    def list(self, prefix: str) -> list[str]:
        full = self._full(prefix).rstrip("/")
        if not self.fs.exists(full):
            return []
        found = self.fs.find(full)
        root = self.root + "/"
        return sorted(
            p[len(root) :] if p.startswith(root) else p.split(self.root.lstrip("/") + "/", 1)[-1]
            for p in found
            if ".part-" not in p
        )
