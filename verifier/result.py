"""The outcome of a verification: every check that ran, by name, with what it found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vocab.problems import PROBLEM_BASE


@dataclass
class Check:
    name: str
    status: str  # "passed", "failed", "skipped" or "warning"
    detail: str = ""
    code: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if self.code:
            out["code"] = self.code
        return out


@dataclass
class Result:
    checks: list[Check] = field(default_factory=list)
    document: dict | None = None  # the credential/presentation that was checked (unwrapped)
    # DIDs whose keys made the verified proofs (or signed the JWT): who actually speaks for it.
    signers: list[str] = field(default_factory=list)
    # A presentation's embedded credentials, each with its own full result, in order.
    embedded: list[Result] = field(default_factory=list)
    presented: object = None  # the document as presented, before an envelope was unwrapped

    def passed(self, name: str, detail: str = "") -> None:
        self.checks.append(Check(name, "passed", detail))

    def failed(self, name: str, exc: Exception | str, code: str = "") -> None:
        detail = str(exc)
        code = code or str(getattr(exc, "code", "")) or name
        self.checks.append(Check(name, "failed", detail, code))

    def skipped(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, "skipped", detail))

    def warn(self, name: str, detail: str, code: str = "") -> None:
        self.checks.append(Check(name, "warning", detail, code or name))

    def not_asked(self, names: set[str]) -> None:
        """Failed checks the caller did not ask for (VC-API options.checks) become warnings: they
        are still reported, but they do not decide `verified`."""
        for check in self.checks:
            # an embedded credential's checks are prefixed (verifiableCredential[0].issuer)
            if check.status == "failed" and check.name.rsplit(".", 1)[-1] in names:
                check.status = "warning"
                check.detail = f"{check.detail} (not among options.checks)"

    def extend(self, other: Result, prefix: str) -> None:
        for check in other.checks:
            self.checks.append(
                Check(f"{prefix}.{check.name}", check.status, check.detail, check.code)
            )

    @property
    def verified(self) -> bool:
        return not any(c.status == "failed" for c in self.checks)

    def failed_names(self) -> list[str]:
        return [c.name for c in self.checks if c.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        def problem(c: Check) -> dict[str, Any]:
            return {
                "type": PROBLEM_BASE + c.code,
                "title": c.name,
                "detail": c.detail,
                "check": c.name,
            }

        errors = [problem(c) for c in self.checks if c.status == "failed"]
        return {
            "verified": self.verified,
            "checks": [c.name for c in self.checks if c.status == "passed"],
            "warnings": [problem(c) for c in self.checks if c.status == "warning"],
            "errors": errors,
            # VC-API VerificationResult names the same RFC 9457 objects problemDetails.
            "problemDetails": errors,
            "results": [c.as_dict() for c in self.checks],
        }
