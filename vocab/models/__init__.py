"""Pydantic models of an Annex XIII battery passport, one module per part, and of the subjects of
the other dbp credentials (`events`, `roles`). JSON names are the battery context's terms."""

from vocab.models.identity import BatteryCategory
from vocab.models.passport import Passport
from vocab.models.status import BatteryStatus

__all__ = ["BatteryCategory", "BatteryStatus", "Passport"]
