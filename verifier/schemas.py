"""The `schema` check: a credential's `credentialSchema` entries of type JsonSchema, validated
against the schemas dbp bundles (`vocab.schemas`). Nothing is fetched: a schema URL that is not
bundled is reported as a warning, because a verifier that fetched schemas named by the document it
verifies would let any credential steer its network traffic.
"""

from __future__ import annotations

from functools import cache

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

from verifier.result import Result
from vocab.errors import SchemaNotFound
from vocab.schemas import SCHEMA_TYPE, schema_for
from vocab.vcdm import as_list

CHECK = "schema"


@cache
def _validator(url: str) -> Draft202012Validator:
    schema = schema_for(url)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _path(error) -> str:
    parts = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return "$" + parts


def check_schema(credential: dict, result: Result) -> None:
    entries = [e for e in as_list(credential.get("credentialSchema", [])) if isinstance(e, dict)]
    if not entries:
        result.skipped(CHECK, "the credential names no credentialSchema")
        return
    checked: list[str] = []
    for entry in entries:
        url, kind = entry.get("id"), entry.get("type")
        if kind != SCHEMA_TYPE:
            result.warn(
                CHECK,
                f"credentialSchema {url} has type {kind!r}; only {SCHEMA_TYPE} is checked here",
                "schema-type-not-supported",
            )
            continue
        try:
            validator = _validator(url)
        except SchemaNotFound:
            result.warn(
                CHECK,
                f"credentialSchema {url} is not bundled with this service and was not fetched",
                "schema-not-bundled",
            )
            continue
        except SchemaError as exc:  # a bundled schema that is itself broken is our bug
            result.failed(CHECK, f"the bundled schema {url} is invalid: {exc.message}", "schema")
            return
        error = best_match(validator.iter_errors(credential))
        if error is not None:
            result.failed(
                CHECK,
                f"does not match {url}: {_path(error)}: {error.message}",
                "schema-mismatch",
            )
            return
        checked.append(url)
    if checked:
        result.passed(CHECK, "matches " + ", ".join(checked))
