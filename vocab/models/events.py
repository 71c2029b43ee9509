"""Subjects of the credentials that follow a passport over the battery's life: dynamic data and
status changes (BatteryEventCredential, Annex XIII point 4) and hand-overs to a new operator
(BatteryTransferCredential, Art 77(7)).

Everything an event carries is legitimate-interest data in the catalogue (the battery status,
row 11, and the condition readings, rows 53-93), so event credentials are restricted like the
legitimate-interest passport tier.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field, model_validator

from vocab.models.common import Iri, Model, rule_error
from vocab.models.identity import BatteryIdentifier, PassportId
from vocab.models.performance import BatteryCondition
from vocab.models.roles import Purpose
from vocab.models.status import BatteryStatus


class BatteryEventType(StrEnum):
    STATUS_CHANGE = "status-change"
    CONDITION_UPDATE = "condition-update"


class BatteryEvent(Model):
    """credentialSubject of a BatteryEventCredential."""

    battery: BatteryIdentifier
    passport_id: PassportId
    event_type: BatteryEventType
    occurred_at: AwareDatetime
    battery_status: BatteryStatus | None = None
    condition: BatteryCondition | None = None

    @model_validator(mode="after")
    def _carries_its_data(self) -> BatteryEvent:
        if self.event_type is BatteryEventType.STATUS_CHANGE and self.battery_status is None:
            raise rule_error("event-data", "a status-change event needs batteryStatus")
        if self.event_type is BatteryEventType.CONDITION_UPDATE and self.condition is None:
            raise rule_error("event-data", "a condition-update event needs condition")
        return self


class BatteryTransfer(Model):
    """credentialSubject of a BatteryTransferCredential: the current holder hands the battery and
    its passport over; both parties sign (the transferor issues, the transferee accepts)."""

    battery: BatteryIdentifier
    passport_id: PassportId
    transferor: Iri
    transferee: Iri
    transferred_at: AwareDatetime
    # Base URL of the dbp instance that serves the passport after the hand-over.
    transfer_endpoint: Iri | None = None
    purpose: list[Purpose] | None = Field(default=None, min_length=1)
