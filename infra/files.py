"""Files only this service's user may read: the SQLite database, the master key, demo.json
(an operator token), and the data directory that holds them. Created with mode 0600 / 0700
from the start (not chmod-ed after a window in which the umask's 0644 applied)."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> None:
    """`path` as a directory others cannot read: made 0700; one of ours that group or others may
    read is narrowed (it is this service's data directory)."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        path.chmod(info.st_mode & 0o700)


def private_file(path: Path) -> None:
    """Make sure `path` exists with mode 0600 (an existing file of ours is narrowed to it)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        info = path.stat()
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            path.chmod(PRIVATE_FILE)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, which only this user may read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), PRIVATE_FILE)
        f.write(text)
