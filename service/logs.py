"""Structured logs: one JSON object per line, every line inside a request carrying its id.

`X-Request-ID` is honoured when a client or proxy sends a sane one and generated otherwise
(`service.observe`); the id lives in a context variable, so any logger used while the request
runs (a domain error, the anchor check) writes it as well.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

import orjson

request_id: ContextVar[str | None] = ContextVar("dbp_request_id", default=None)

# Attributes a log call may pass in `extra=` that become JSON members.
FIELDS: Final = ("method", "path", "route", "status", "duration_ms", "client", "role")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid is not None:
            out["request_id"] = rid
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """The human format (`make run`): the request line reads like an access log."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [{rid}]" if rid else line


def resolve_format(configured: str) -> str:
    if configured != "auto":
        return configured
    return "text" if sys.stderr.isatty() else "json"


def logging_config(log_format: str, level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the process (uvicorn's `log_config` takes it): every
    logger, uvicorn's included, through one stderr handler in the chosen format."""
    formatter = "json" if resolve_format(log_format) == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"()": TextFormatter},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # uvicorn's own loggers propagate to the root; its access log is replaced by ours
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }
