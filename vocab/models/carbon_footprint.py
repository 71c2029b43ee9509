"""The carbon footprint declaration (Art 7(1)-(2), Annex XIII 1(c); DATAMODEL rows 19-27), in the
shape DATAMODEL section 4 recommends: every figure absolute in kgCO2e per functional unit, the share
of a life-cycle stage is derived by dividing, never stored."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from vocab.models.common import Model, NonEmptyStr, NonNegative, Url, rule_error

CARBON_INTENSITY_UNIT = "kgCO2e/kWh"
"""Per kWh of total energy the battery provides over its expected service life (Art 7(1)(d))."""

# The four stage figures and the total are each rounded when declared, so their sum can miss the
# total by a few rounding steps: accept 1 % of the declared value, and never less than 0.001.
STAGE_SUM_RELATIVE_TOLERANCE = 0.01
STAGE_SUM_ABSOLUTE_TOLERANCE = 0.001


class LifecycleStage(StrEnum):
    """The life-cycle stages of Annex II point 4; the use stage is excluded from the declaration."""

    RAW_MATERIAL_ACQUISITION_AND_PRE_PROCESSING = "rawMaterialAcquisitionAndPreProcessing"
    MAIN_PRODUCT_PRODUCTION = "mainProductProduction"
    DISTRIBUTION = "distribution"
    END_OF_LIFE_AND_RECYCLING = "endOfLifeAndRecycling"


class CarbonIntensity(Model):
    value: NonNegative
    unit: Literal["kgCO2e/kWh"]


class StageFootprint(Model):
    stage: LifecycleStage
    value: NonNegative
    unit: Literal["kgCO2e/kWh"]


class AbsoluteFootprint(Model):
    value: NonNegative
    unit: Literal["tCO2e"]


def stage_sum_tolerance(declared: float) -> float:
    return max(STAGE_SUM_RELATIVE_TOLERANCE * declared, STAGE_SUM_ABSOLUTE_TOLERANCE)


class CarbonFootprint(Model):
    type: Literal["BatteryCarbonFootprintDeclaration"] | None = None
    functional_unit: NonEmptyStr | None = None
    declared_value: CarbonIntensity
    lifecycle_stages: list[StageFootprint]
    performance_class: Annotated[str, Field(pattern=r"^[A-Z]$")] | None = None
    """Carbon footprint performance class, A being the best (Art 7(2))."""
    public_study_url: Url | None = None
    declaration_of_conformity_id: NonEmptyStr | None = None
    manufacturing_facility: NonEmptyStr | None = None
    """The plant the declaration is for: declarations are per model and per plant (Art 7(1))."""
    absolute_footprint: AbsoluteFootprint | None = None

    @field_validator("lifecycle_stages")
    @classmethod
    def _stages_complete_and_consistent(
        cls, stages: list[StageFootprint], info: ValidationInfo
    ) -> list[StageFootprint]:
        declared = [s.stage for s in stages]
        missing = [s.value for s in LifecycleStage if s not in declared]
        repeated = sorted({s.value for s in declared if declared.count(s) > 1})
        if missing or repeated:
            raise rule_error(
                "lifecycle-stages",
                "each of the four Annex II stages must be declared exactly once "
                "(missing: {missing}; repeated: {repeated})",
                missing=", ".join(missing) or "none",
                repeated=", ".join(repeated) or "none",
            )
        total = info.data.get("declared_value")
        if total is not None:
            stage_sum = sum(s.value for s in stages)
            tolerance = stage_sum_tolerance(total.value)
            if abs(stage_sum - total.value) > tolerance:
                raise rule_error(
                    "stage-sum",
                    "the life-cycle stages sum to {sum} kgCO2e/kWh but the declared value is "
                    "{declared} kgCO2e/kWh (tolerance {tolerance})",
                    sum=round(stage_sum, 6),
                    declared=total.value,
                    tolerance=round(tolerance, 6),
                )
        return stages
