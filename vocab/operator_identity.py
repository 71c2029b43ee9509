"""The rule binding a passport's economic operator to its signer, shared by the issuer (which
fills in or refuses, issuer/operator_identity.py) and the verifier's trust check
(verifier/authority.py), so both apply the same rule.

A passport names its economic operator in `general.operator.identifier` (Annex XIII point 1(b)
row 3). That identifier must be the DID that signs the passport, or another identifier the
signer's DID document lists under `alsoKnownAs` (DID Core §5.1.3), e.g. an EORI or LEI URI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

OPERATOR_FIELD: Final = "general.operator.identifier"


def named_operator(subject: Any) -> Any:
    """`general.operator.identifier` of a passport or a tier credential's subject; None when it
    names none."""
    general = subject.get("general") if isinstance(subject, dict) else None
    party = general.get("operator") if isinstance(general, dict) else None
    return party.get("identifier") if isinstance(party, dict) else None


def binds(identifier: Any, signer: str, known_as: Sequence[str]) -> bool:
    """Whether the named operator `identifier` is the signer (its DID or an alsoKnownAs)."""
    return isinstance(identifier, str) and (identifier == signer or identifier in known_as)


def also_known_as(did_document: Any) -> list[str]:
    """The `alsoKnownAs` URIs of a DID document (a set of strings; anything else is ignored)."""
    value = did_document.get("alsoKnownAs") if isinstance(did_document, dict) else None
    values = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return [v for v in values if isinstance(v, str)]
