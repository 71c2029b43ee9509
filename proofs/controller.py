"""Picking a verification method out of a controller (DID) document for a proof purpose.

`proofs` never fetches controller documents; whoever builds a `VerificationMethodResolver`
(resolver package, tests) fetches the document and uses this to select the method, so that the
"listed under that relationship" rule is applied the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from proofs.errors import VerificationMethodError
from vocab.datetimes import as_utc, format_datetime, parse_datetime

# resolve(verification_method_id, proof_purpose) -> the verification method; raises
# VerificationMethodError when it is unknown, unresolvable, or not listed under that purpose by its
# controller. Any verification of a signature goes through one of these, handed in by the caller.
VerificationMethodResolver = Callable[[str, str], dict[str, Any]]

PROOF_PURPOSES = frozenset(
    {
        "authentication",
        "assertionMethod",
        "keyAgreement",
        "capabilityInvocation",
        "capabilityDelegation",
    }
)


def _absolute(ref: str, base: str) -> str:
    # DID documents may name their methods relative to the document, e.g. "#key-1".
    return base + ref if ref.startswith("#") else ref


def verification_method_for_purpose(
    controller_document: dict[str, Any], verification_method_id: str, proof_purpose: str
) -> dict[str, Any]:
    """The verification method `verification_method_id`, if `controller_document` lists it under
    `proof_purpose`; VerificationMethodError otherwise. Relative ids come back absolute."""
    if proof_purpose not in PROOF_PURPOSES:
        raise VerificationMethodError(f"{proof_purpose!r} is not a verification relationship")
    doc_id = controller_document.get("id") if isinstance(controller_document, dict) else None
    if not isinstance(doc_id, str):
        raise VerificationMethodError("the controller document has no 'id'")
    if verification_method_id.partition("#")[0] != doc_id:
        raise VerificationMethodError(
            f"verification method {verification_method_id!r} is not part of the controller "
            f"document {doc_id!r}"
        )
    listed = controller_document.get(proof_purpose, [])
    listed = listed if isinstance(listed, list) else [listed]
    for entry in listed:
        if isinstance(entry, str) and _absolute(entry, doc_id) == verification_method_id:
            return _lookup(controller_document, doc_id, verification_method_id)
        if isinstance(entry, dict) and _absolute(entry.get("id", ""), doc_id) == (
            verification_method_id
        ):
            return _normalised(entry, doc_id)
    raise VerificationMethodError(
        f"verification method {verification_method_id!r} is not listed under {proof_purpose!r} "
        f"in {doc_id}"
    )


def _lookup(document: dict[str, Any], doc_id: str, vm_id: str) -> dict[str, Any]:
    methods = document.get("verificationMethod", [])
    for vm in methods if isinstance(methods, list) else [methods]:
        if isinstance(vm, dict) and _absolute(vm.get("id", ""), doc_id) == vm_id:
            return _normalised(vm, doc_id)
    raise VerificationMethodError(
        f"{doc_id} references verification method {vm_id!r} but does not define it"
    )


def _normalised(vm: dict[str, Any], doc_id: str) -> dict[str, Any]:
    vm = dict(vm)
    vm["id"] = _absolute(vm["id"], doc_id)
    if isinstance(vm.get("controller"), str):
        vm["controller"] = _absolute(vm["controller"], doc_id)
    return vm


def checked_verification_method(
    resolve: VerificationMethodResolver,
    vm_id: str,
    purpose: str,
    now: datetime,
    signed_at: datetime | None = None,
) -> dict[str, Any]:
    """Resolve `vm_id` for `purpose` and check what the resolver returned is consistent.

    The method must be the one asked for, name a controller, belong to that controller's
    document (Controlled Identifiers 1.0: a `did:x#key` method is controlled by `did:x`), not be
    expired at `now`, and not have been revoked when the proof was made (`signed_at`, the proof's
    `created`): a retired key keeps verifying what it signed before its retirement, never what
    claims a later time. Without `signed_at` the proof could be from any time, so `now` is used.
    """
    method = resolve(vm_id, purpose)
    if not isinstance(method, dict):
        raise VerificationMethodError(f"verification method {vm_id} did not resolve to an object")
    if method.get("id") != vm_id:
        raise VerificationMethodError(
            f"resolving {vm_id} returned a different verification method ({method.get('id')!r})"
        )
    controller = method.get("controller")
    if not isinstance(controller, str):
        raise VerificationMethodError(f"verification method {vm_id} names no controller")
    owner, has_fragment, _ = vm_id.partition("#")
    if has_fragment and controller != owner:
        raise VerificationMethodError(
            f"verification method {vm_id} claims controller {controller}, but it is part of "
            f"{owner}'s document"
        )
    for attribute in ("revoked", "expires"):
        if attribute not in method:
            continue
        try:
            when = parse_datetime(method[attribute])
        except ValueError as exc:
            raise VerificationMethodError(f"{vm_id}: {attribute} is malformed: {exc}") from None
        if attribute == "expires" and now >= when:
            raise VerificationMethodError(
                f"verification method {vm_id} expired at {method[attribute]}"
            )
        if attribute == "revoked":
            moment = as_utc(signed_at) if signed_at is not None else now
            if moment >= when:
                made = (
                    f"the proof was created at {format_datetime(signed_at)}"
                    if signed_at is not None
                    else "the proof does not say when it was created"
                )
                raise VerificationMethodError(
                    f"verification method {vm_id} was revoked at {method[attribute]} and {made}"
                )
    return method
