"""The battery status state machine (Annex XIII 4(c); Art 77(7)-(8)).

A battery starts `original`; it may be re-used, repurposed or remanufactured (each a next life,
Art 77(7)) or become waste; a battery in a next life may become waste; waste may be recycled; after
`recycled` the passport has ceased to exist (Art 77(8)) and is archived: nothing follows it.

Staying in the same status is not a transition (a new passport version, or a repeated status
event, of a battery that is still `original`), except after `recycled`. The rule is checked
wherever a status is set: status-change events, new passport versions and the first passport of a
next life, on this instance or on the instance a battery was handed over to (which learns the
status at the hand-over).
"""

from __future__ import annotations

from typing import Final

from issuer.errors import IssuerError
from vocab.models.status import BatteryStatus

ORIGINAL, RE_USED, REPURPOSED, REMANUFACTURED, WASTE, RECYCLED = (s.value for s in BatteryStatus)
NEXT_LIFE: Final = frozenset({RE_USED, REPURPOSED, REMANUFACTURED})

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    ORIGINAL: NEXT_LIFE | {WASTE},
    RE_USED: frozenset({WASTE}),
    REPURPOSED: frozenset({WASTE}),
    REMANUFACTURED: frozenset({WASTE}),
    WASTE: frozenset({RECYCLED}),
    RECYCLED: frozenset(),
}


class StatusTransitionRefused(IssuerError):
    """The battery cannot go from its status to the one asked for; both are named."""

    code = "status-transition-refused"
    status = 409

    def __init__(self, current: str, requested: str | None) -> None:
        allowed = sorted(TRANSITIONS.get(current, frozenset()))
        if current == RECYCLED:
            reason = "the battery was recycled: its passport has ceased to exist (Art 77(8))"
        else:
            reason = f"from {current!r} a battery may only become " + " or ".join(
                repr(s) for s in allowed
            )
        if requested is None:
            message = f"nothing can be recorded for a battery in status {current!r}: {reason}"
        else:
            message = f"battery status cannot change from {current!r} to {requested!r}: {reason}"
        super().__init__(message)
        self.problem_extensions = {
            "currentStatus": current,
            "requestedStatus": requested,
            "allowedStatuses": allowed,
        }


def check(current: str | None, requested: str | None) -> None:
    """Raise `StatusTransitionRefused` unless a battery in status `current` (None: not known
    yet) may take status `requested` (None: the data leaves the status as it is)."""
    if current is None or (requested is not None and requested not in TRANSITIONS):
        return  # nothing known yet, or a value the vocabulary's validation refuses by name
    if current == RECYCLED:
        raise StatusTransitionRefused(current, requested)
    if requested is None or requested == current:
        return
    if requested not in TRANSITIONS.get(current, frozenset()):
        raise StatusTransitionRefused(current, requested)
