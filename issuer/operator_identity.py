"""The signer is the operator the passport names.

A passport names its economic operator in `general.operator.identifier`. Whoever signs the
passport must be that operator: the identifier is the issuing operator's DID, or another
identifier the operator's DID document lists under `alsoKnownAs` (DID Core §5.1.3), such as an
EORI or LEI as a URI. Issuance fills the DID in when the identifier is absent and refuses any
other identifier (422 `operator-not-issuer` naming the field); the verifier's trust check
(`verifier.authority`) applies the same rule to credentials from anywhere.

Operators manage their other identifiers with `GET/PATCH /operators/me`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, select

from issuer.errors import FieldError
from issuer.tables import Operator, OperatorAlias
from vocab.operator_identity import OPERATOR_FIELD, binds
from vocab.vcdm import is_url

MAX_ALIASES = 20
MAX_ALIAS_LENGTH = 600


class OperatorNotIssuer(FieldError):
    """The passport names another operator than the one signing it."""

    code = "operator-not-issuer"
    status = 422
    rule = "issuing-operator"


class InvalidOperatorUpdate(FieldError):
    code = "invalid-operator-update"
    status = 422


class AliasTaken(FieldError):
    code = "alias-taken"
    status = 409
    rule = "unique"


def aliases(session: Session, operator: Operator) -> list[str]:
    rows = session.exec(
        select(OperatorAlias)
        .where(OperatorAlias.operator_id == operator.id)
        .order_by(OperatorAlias.position)
    ).all()
    return [r.uri for r in rows]


def _checked(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise InvalidOperatorUpdate("alsoKnownAs", "must be a list of URIs")
    if len(value) > MAX_ALIASES:
        raise InvalidOperatorUpdate("alsoKnownAs", f"lists more than {MAX_ALIASES} identifiers")
    for i, uri in enumerate(value):
        where = f"alsoKnownAs[{i}]"
        if not isinstance(uri, str) or not is_url(uri):
            raise InvalidOperatorUpdate(
                where, "must be an absolute URI, e.g. urn:lei:529900T8BM49AURSDO55", rule="uri"
            )
        if len(uri) > MAX_ALIAS_LENGTH:
            raise InvalidOperatorUpdate(where, f"is longer than {MAX_ALIAS_LENGTH} characters")
    return list(dict.fromkeys(value))


def set_aliases(session: Session, operator: Operator, value: Any) -> list[str]:
    """Replace the operator's other identifiers; 409 when another operator here has one."""
    wanted = _checked(value)
    if wanted and operator.did_method != "web":
        raise InvalidOperatorUpdate(
            "alsoKnownAs",
            "a did:key operator's DID document is derived from its key and cannot list other "
            "identifiers; use a did:web operator",
            rule="did-web",
        )
    if operator.did in wanted:
        raise InvalidOperatorUpdate(
            f"alsoKnownAs[{wanted.index(operator.did)}]", "is the operator's own DID"
        )
    if wanted:
        taken = session.exec(
            select(OperatorAlias).where(
                OperatorAlias.uri.in_(wanted),  # type: ignore[attr-defined]
                OperatorAlias.operator_id != operator.id,
            )
        ).first()
        if taken is not None:
            raise AliasTaken(
                f"alsoKnownAs[{wanted.index(taken.uri)}]",
                f"{taken.uri} is another operator's identifier here",
            )
    for row in session.exec(
        select(OperatorAlias).where(OperatorAlias.operator_id == operator.id)
    ).all():
        session.delete(row)
    session.flush()
    for position, uri in enumerate(wanted):
        session.add(OperatorAlias(uri=uri, operator_id=operator.id, position=position))
    session.flush()
    return wanted


def bind_operator(passport: dict[str, Any], signer: str, known_as: Sequence[str]) -> dict:
    """The passport with the operator identifier filled in when absent; OperatorNotIssuer when
    it names someone else. Without a `general.operator` there is no operator named to check."""
    general = passport.get("general")
    party = general.get("operator") if isinstance(general, dict) else None
    if not isinstance(party, dict):
        return passport
    identifier = party.get("identifier")
    if identifier is None:
        return {**passport, "general": {**general, "operator": {**party, "identifier": signer}}}
    if binds(identifier, signer, known_as):
        return passport
    listed = f" or one of its alsoKnownAs identifiers ({', '.join(known_as)})" if known_as else ""
    raise OperatorNotIssuer(
        OPERATOR_FIELD,
        f"names {identifier!r} as the economic operator, but {signer} signs this passport: it "
        f"must be {signer}{listed}, or be left out to have it filled in. Another identifier of "
        'yours can be added with PATCH /operators/me {"alsoKnownAs": [...]}',
    )


def description(session: Session, operator: Operator) -> dict[str, Any]:
    """What GET /operators/me answers."""
    return {
        "name": operator.name,
        "did": operator.did,
        "didMethod": operator.did_method,
        "alsoKnownAs": aliases(session, operator),
    }
