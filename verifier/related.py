"""`relatedResource` integrity on verification (the rule is vocab.related's, shared with the
issuer). A resource dbp cannot get (offline, or through the `fetch` the composition root hands in
for this instance's documents) is reported as a warning, not a pass."""

from __future__ import annotations

from collections.abc import Callable

from verifier.result import Result
from vocab.related import Fetch, check_digests, resource_matches

__all__ = ["check_related_resources", "related_resources_check", "resource_matches"]


def check_related_resources(credential: dict, result: Result, fetch: Fetch | None = None) -> None:
    """A `CredentialCheck`: named `relatedResource`, only when the credential has any. `fetch`
    gives the bytes of other resources the caller can reach (None: it cannot)."""
    if "relatedResource" not in credential:
        return
    mismatch, unchecked = check_digests(credential, fetch)
    if mismatch is not None:
        result.failed("relatedResource", mismatch, "digest-mismatch")
    elif unchecked:
        result.warn(
            "relatedResource",
            f"not checked (not held offline): {', '.join(unchecked)}",
            "related-resource-unchecked",
        )
    else:
        result.passed("relatedResource", "every related resource matches its digest")


def related_resources_check(fetch: Fetch) -> Callable[[dict, Result], None]:
    """`check_related_resources` with a way to get more resources than the offline ones."""

    def check(credential: dict, result: Result) -> None:
        check_related_resources(credential, result, fetch)

    return check
