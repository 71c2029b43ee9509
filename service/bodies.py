"""Request bodies: moved to `infra/bodies.py` (the routers use them without importing
`service`); the names stay importable from here for the app and its tests."""

from __future__ import annotations

from infra.bodies import (
    BodyError,
    BodySizeLimit,
    BodyTooLarge,
    UnsupportedMediaType,
    json_object,
    optional_json_object,
)

__all__ = [
    "BodyError",
    "BodySizeLimit",
    "BodyTooLarge",
    "UnsupportedMediaType",
    "json_object",
    "optional_json_object",
]
