"""Errors of the backup service; each carries the HTTP status and problem code it answers with."""

from __future__ import annotations

from issuer.errors import IssuerError


class BackupError(IssuerError):
    code = "backup-error"
    status = 400


class SnapshotInvalid(BackupError):
    """The envelope or the snapshot inside it is malformed."""

    code = "snapshot-invalid"
    status = 422


class SnapshotUntrusted(BackupError):
    """Signed by a key this backup was not told to trust."""

    code = "snapshot-untrusted"
    status = 403


class SnapshotSignatureInvalid(BackupError):
    """The envelope's signature, or the proof of a credential inside it, does not verify."""

    code = "snapshot-signature-invalid"
    status = 422


class SnapshotStale(BackupError):
    """A different snapshot with this sequence number or a later one is held already."""

    code = "snapshot-stale"
    status = 409

    def __init__(self, message: str, latest: int) -> None:
        super().__init__(message)
        self.latest = latest
        self.problem_extensions = {"latestSequence": latest}


class SnapshotKeyError(BackupError):
    """The snapshot key is missing, unreadable or not the one the snapshot was encrypted under."""

    code = "snapshot-key"
    status = 400


class NoSnapshot(BackupError):
    code = "no-snapshot"
    status = 404


class ReadOnlyBackup(BackupError):
    """A write sent to the backup, which serves the primary's data read-only."""

    code = "read-only-backup"
    status = 405


class RestoreRefused(BackupError):
    """The target database of a restore is not empty, or the snapshot cannot be restored."""

    code = "restore-refused"
    status = 409
