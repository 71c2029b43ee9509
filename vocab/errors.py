"""Errors raised by the vocabulary package.

Every class carries `status` and `code`: the service turns any exception with those attributes into
an RFC 9457 problem response, so the class chosen here decides what an API client sees.
"""

from __future__ import annotations

from typing import Any


class VocabError(Exception):
    """Base class for everything `vocab` raises."""

    status = 400
    code = "vocab-error"


class ContextNotBundled(VocabError):
    """A JSON-LD context URL that is not bundled with dbp was requested.

    dbp never fetches contexts from the network at run time; a document that names any other
    context cannot be processed.
    """

    code = "context-not-allowed"

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD context {url!r} is not bundled with this service; remote contexts are refused"
        )
        self.url = url


class PassportInvalid(VocabError):
    """Passport data breaks one or more rules of the vocabulary.

    `errors` lists every broken rule as `{"path", "rule", "message"}`, where `path` uses the
    catalogue's path notation with concrete list indices, as in
    `carbonFootprint.lifecycleStages[1].value`.
    """

    status = 422
    code = "passport-invalid"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        first = errors[0] if errors else {"path": "", "message": "invalid passport"}
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first['path'] or 'passport'}: {first['message']}{more}")

    @property
    def problem_extensions(self) -> dict[str, Any]:
        return {"errors": self.errors}


class CatalogueError(VocabError):
    """The attribute catalogue contradicts itself or the models (a bug in dbp, not in the input)."""

    status = 500
    code = "catalogue-error"


class UnclassifiedField(CatalogueError):
    """A passport field that no catalogue attribute covers, so no access tier can be chosen for it.

    Raised instead of guessing a tier: data without a tier must not be released to anyone.
    """

    code = "unclassified-field"

    def __init__(self, path: str) -> None:
        super().__init__(f"no catalogue attribute covers passport field {path!r}")
        self.path = path


class SchemaNotFound(VocabError):
    """A credential schema URL that dbp does not publish."""

    status = 404
    code = "schema-not-found"

    def __init__(self, url: str) -> None:
        super().__init__(f"no credential schema is published at {url!r}")
        self.url = url


class ExampleNotFound(VocabError):
    """An example passport name that is not bundled."""

    status = 404
    code = "example-not-found"

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no example passport {name!r}; bundled: {', '.join(known)}")
        self.name = name
