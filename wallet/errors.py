"""What can go wrong on the holder's side. The CLI prints each as one line `error: ...`."""

from __future__ import annotations


class WalletError(Exception):
    """Base class: an expected failure with a message for a person."""


class StoreError(WalletError):
    """The wallet file is missing, unreadable, corrupted or of an unknown format."""


class WrongPassphrase(StoreError):
    """The passphrase does not open the wallet (or the file was altered)."""


class NoIdentity(WalletError):
    """The wallet has no identity yet (`dbp wallet init`)."""


class IdentityExists(WalletError):
    """`init` would replace an identity (and its key) without --force."""


class UnknownCredential(WalletError):
    """No stored credential matches the id (or prefix) given."""


class BadInput(WalletError):
    """A file or argument is not something the wallet can take."""


class ServiceError(WalletError):
    """A dbp service could not be reached or answered something unusable."""


class ServiceRefused(ServiceError):
    """A service answered with an RFC 9457 problem."""

    def __init__(self, status: int, problem_type: str, detail: str) -> None:
        self.status = status
        self.problem_type = problem_type
        self.detail = detail
        super().__init__(f"refused: {problem_type} (HTTP {status}): {detail}")


class ResolutionFailed(WalletError):
    """A DID could not be resolved by the wallet."""
