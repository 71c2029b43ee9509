"""Picking a verification method out of a controller (DID) document for a proof purpose.

`proofs` never fetches controller documents; whoever builds a `VerificationMethodResolver`
(resolver package, tests) fetches the document and uses this to select the method, so that the
"listed under that relationship" rule is applied the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from proofs.errors import VerificationMethodError

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
