"""Getting each source's raw data into the staging store.

- file drops: every file the location (a path or glob) names is staged as it is; the files there
  now are the source's data (a file replaced by a new version replaces its records);
- HTTP pull: paged JSON, a bearer token or an API key, incremental by the largest timestamp seen
  (sent as a query parameter) or by the last cursor; each page is staged as it arrived and all
  pages fetched so far make up the source's data; transport errors, 429 and 5xx are retried with
  exponential backoff (honouring Retry-After), other 4xx answers stop the run;
- push: the request bodies `POST /ingest/{source}` staged (pipeline.push), all of them.
"""

from __future__ import annotations

import glob
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from infra.fetch import Fetched, FetchFailed, FetchPolicy, HostNotAllowed, TooLarge, fetch
from pipeline.config import PipelineConfig, Source
from pipeline.errors import SourceUnavailable
from pipeline.formats import EXTENSIONS, member
from pipeline.staging import ObjectStore
from pipeline.state import State

RETRY_STATUS = {429, 500, 502, 503, 504}


def stage_files(
    config: PipelineConfig, source: Source, store: ObjectStore
) -> list[tuple[str, str]]:
    pattern = config.location(source)
    if "://" in pattern:
        import fsspec

        fs, root = fsspec.core.url_to_fs(pattern, **config.storage_options)
        names = sorted(fs.glob(root)) if any(c in root for c in "*?[") else [root]
        out = []
        for name in names:
            with fs.open(name, "rb") as handle:
                out.append((store.put(handle.read(), EXTENSIONS[source.format]), name))
        if not out:
            raise SourceUnavailable(f"source {source.name}: nothing at {pattern}")
        return out
    names = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
    names = [n for n in names if Path(n).is_file()]
    if not names:
        raise SourceUnavailable(f"source {source.name}: no file at {pattern}")
    return [(store.put(Path(n).read_bytes(), EXTENSIONS[source.format]), n) for n in names]


def _auth_headers(source: Source) -> dict[str, str]:
    if source.auth is None:
        return {}
    if source.auth.type == "bearer":
        return {"Authorization": f"Bearer {source.auth.token}"}
    return {source.auth.header: source.auth.token}


# An HTTP source answers pages of JSON records; a page larger than this is refused.
MAX_PAGE_BYTES = 64 * 1024 * 1024


def source_policy(source: Source) -> FetchPolicy:
    """The outbound-fetch policy of an HTTP source (infra.fetch): its own origin only, named
    explicitly by the pipeline's configuration, within its timeout and the page size cap."""
    assert source.location is not None
    parts = urlsplit(source.location)
    return FetchPolicy(
        allowed_hosts=frozenset({f"{parts.scheme}://{parts.netloc.lower()}"}),
        timeout_s=source.timeout_s,
        max_bytes=MAX_PAGE_BYTES,
    )


def get_with_retries(
    client: httpx.Client, url: str, params: dict[str, Any], source: Source, sleep=time.sleep
) -> Fetched:
    """GET through the one outbound-fetch function (infra.fetch: the source's origin only, one DNS
    answer, size and time caps, no redirects) with retries: failures to connect, 429 and 5xx
    are retried `source.retries` times, the wait doubling from `source.backoff_s` (or what
    Retry-After asks, at most 60 s)."""
    policy = source_policy(source)
    target = str(httpx.URL(url).copy_merge_params(params)) if params else url
    delay = source.backoff_s
    for attempt in range(source.retries + 1):
        last = attempt == source.retries
        try:
            response = fetch(client, policy, "GET", target, headers=_auth_headers(source))
        except HostNotAllowed as exc:
            raise SourceUnavailable(f"source {source.name}: {exc}") from None
        except FetchFailed as exc:
            if last or isinstance(exc, TooLarge):
                raise SourceUnavailable(
                    f"source {source.name}: {url} failed after {attempt + 1} attempts: {exc}"
                ) from None
            sleep(delay)
            delay *= 2
            continue
        if response.status in RETRY_STATUS and not last:
            wait = delay
            retry_after = response.headers.get("retry-after", "")
            if retry_after.isdigit():
                wait = min(60.0, float(retry_after))
            sleep(wait)
            delay *= 2
            continue
        if response.status >= 400:
            text = response.body.decode("utf-8", "replace")
            raise SourceUnavailable(
                f"source {source.name}: {url} answered {response.status} {text[:200]!r}"
            )
        return response
    raise AssertionError("unreachable")  # pragma: no cover


def pull_http(
    source: Source, store: ObjectStore, state: State, *, sleep=time.sleep
) -> list[tuple[str, str]]:
    """Fetch the pages that are new since the last run; stage them; advance the cursor."""
    paging = source.paging
    incremental = source.incremental
    params: dict[str, Any] = {}
    cursor = state.cursor(source.name) if incremental else None
    if incremental and cursor:
        if incremental.mode == "timestamp":
            params[incremental.param] = cursor
        elif paging:
            params[paging.cursor_param] = cursor
    if paging and paging.page_size_param:
        params[paging.page_size_param] = paging.page_size
    staged: list[tuple[str, str]] = []
    newest = cursor if incremental and incremental.mode == "timestamp" else None
    last_cursor = cursor
    url = source.location
    assert url is not None
    # no proxies from the environment: infra.fetch connects to the address it checked
    with httpx.Client(trust_env=False) as client:
        for _page in range(100_000):
            response = get_with_retries(client, url, params, source, sleep)
            try:
                body = orjson.loads(response.body)
            except orjson.JSONDecodeError:
                raise SourceUnavailable(
                    f"source {source.name}: {url} did not answer JSON"
                ) from None
            records = member(body, paging.items if paging else source.records) or []
            if records:
                key = store.put(response.body, ".json")
                staged.append((key, response.url))
            if incremental and incremental.mode == "timestamp" and incremental.field:
                for record in records:
                    value = member(record, incremental.field)
                    if isinstance(value, str) and (newest is None or value > newest):
                        newest = value
            following = member(body, paging.next_cursor) if paging and paging.next_cursor else None
            if not following:
                break
            last_cursor = following
            params[paging.cursor_param] = following  # type: ignore[union-attr]
    if incremental:
        if incremental.mode == "timestamp" and newest:
            state.set_cursor(source.name, newest)
        elif incremental.mode == "cursor" and last_cursor:
            state.set_cursor(source.name, last_cursor)
    return staged


def push_objects(source: Source, store: ObjectStore) -> list[tuple[str, str]]:
    from pipeline import push

    return [(r["object"], f"push {r['receivedAt']} {r['operator']}") for r in
            push.receipts(store, source.name)]  # fmt: skip
