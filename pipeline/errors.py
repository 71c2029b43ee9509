"""Errors raised by the pipeline. Each class carries `status` and `code`, so the service turns it
into an RFC 9457 problem at the edge (as every domain package's errors), and the CLI prints its
message on one line."""

from __future__ import annotations

from typing import Any


class PipelineError(Exception):
    """Base class for everything `pipeline` raises."""

    status = 400
    code = "pipeline-error"
    problem_extensions: dict[str, Any] = {}


class ConfigInvalid(PipelineError):
    """The pipeline YAML is wrong: the message names the key and what is expected."""

    code = "pipeline-config-invalid"
    status = 422

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.problem_extensions = {"field": where}


class UnknownUnit(PipelineError):
    code = "unknown-unit"
    status = 422


class UnknownSource(PipelineError):
    code = "unknown-source"
    status = 404


class NoPipeline(PipelineError):
    """This instance has no pipeline configuration (DBP_PIPELINE_CONFIG), so it takes no pushes."""

    code = "no-pipeline"
    status = 404


class IngestInvalid(PipelineError):
    code = "ingest-invalid"
    status = 422

    def __init__(self, field: str, message: str, rule: str = "type") -> None:
        super().__init__(f"{field}: {message}")
        self.problem_extensions = {"field": field, "rule": rule}


class BodyInvalid(PipelineError):
    """A request body that is not one JSON document (or repeats a member name)."""

    code = "invalid-body"
    status = 400

    def __init__(self, message: str, rule: str = "json") -> None:
        super().__init__(message)
        self.problem_extensions = {"rule": rule}


class IdempotencyKeyReused(PipelineError):
    code = "idempotency-key-reused"
    status = 422


class IdempotencyKeyMissing(PipelineError):
    code = "idempotency-key-required"
    status = 400


class SourceUnavailable(PipelineError):
    """An HTTP source kept failing after its retries, or a file source is missing."""

    code = "source-unavailable"
    status = 502


class FormatError(PipelineError):
    """A source file cannot be read as the format its config names."""

    code = "source-format"
    status = 422


class ServiceRefused(PipelineError):
    """The passport service answered a request of the pipeline with an error."""

    code = "service-refused"
    status = 502


class UnknownQuarantineEntry(PipelineError):
    code = "unknown-quarantine-entry"
    status = 404


class NotADocument(PipelineError):
    """`POST /conformance/check` and `dbp passport check`: the input is not a passport, a
    credential holding one, or a list of tier credentials."""

    code = "not-a-passport"
    status = 422


class EngineUnavailable(PipelineError):
    """`--engine spark` without pyspark or Java."""

    code = "engine-unavailable"
    status = 500
