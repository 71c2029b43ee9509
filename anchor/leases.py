"""Database leases: at most one process sends anchoring transactions (or follows events) at a time.

Two senders on one account would race for nonces. The holder renews its lease on every pass; a
lease that was not renewed within its time-to-live goes to whoever asks next. A holder is named
`host:pid:random`, so a restarted process on the same host takes over at once from a holder whose
process is gone (killed workers do not block their successor for a whole TTL).
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from anchor.tables import AnchorLease
from vocab.datetimes import as_utc, utcnow


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _dead_local_process(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # another holder in this very process (a second runtime) is alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire(engine: Engine, name: str, holder: str, ttl_s: float) -> bool:
    """Take or renew lease `name` for `holder`; False when someone else holds it."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_s)
    with Session(engine) as session:
        lease = session.get(AnchorLease, name)
        if lease is None:
            session.add(AnchorLease(name=name, holder=holder, expires_at=expires))
            try:
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
                lease = session.get(AnchorLease, name)
                if lease is None:
                    return False
        current = lease.holder
        if (
            current != holder
            and as_utc(lease.expires_at) > now
            and not _dead_local_process(current)
        ):
            return False
        # compare-and-set on the holder we saw, so two contenders cannot both win
        result = session.execute(
            update(AnchorLease)
            .where(AnchorLease.name == name, AnchorLease.holder == current)
            .values(holder=holder, expires_at=expires)
        )
        session.commit()
        return result.rowcount == 1


def release(engine: Engine, name: str, holder: str) -> None:
    with Session(engine) as session:
        session.execute(
            update(AnchorLease)
            .where(AnchorLease.name == name, AnchorLease.holder == holder)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
