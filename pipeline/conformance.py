"""Conformance of a passport with the vocabulary and the Regulation, for a passport built by the
pipeline or one issued anywhere (`dbp passport check FILE`, `POST /conformance/check`).

Checks, each reported by name:
- `schema`: the vocabulary's data model (types, required members, enumerations, units: every
  quantity must carry exactly the catalogue's unit);
- `mandatory`: the attributes mandatory for the battery's category from the first issuance
  (Annex XIII per category, catalogue `applicability`); when only some access tiers are given
  (a public credential), attributes of the tiers not given are listed as `notShown`, not missing;
- `consistency`: the four life-cycle stages add up to the declared carbon footprint (within the
  rounding tolerance), pre- plus post-consumer recycled share at most 100 %, minimum <= nominal <=
  maximum voltage, idle temperature range lower < upper, manufacturing month not after putting
  into service;
- `regulation`: rules of Regulation (EU) 2023/1542 that the data allows to check: Art 6 / Annex I
  mercury limit (0.0005 % by weight); Art 13(4) and Annex VI Part B: the Cd / Pb symbols when
  cadmium exceeds 0.002 % or lead 0.004 %; Art 8(2): minimum recycled shares (cobalt 16 %,
  lead 85 %, lithium 6 %, nickel 6 %) for EV, industrial (and SLI) batteries manufactured from
  18 August 2031; Art 7: a carbon footprint declaration for EV batteries.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from pipeline.errors import NotADocument
from vocab.catalogue import Tier, load_catalogue
from vocab.models.carbon_footprint import stage_sum_tolerance
from vocab.models.identity import BatteryCategory
from vocab.models.passport import Passport
from vocab.paths import resolve
from vocab.tiers import ACCESS_TIER_FIELD, merge_tiers, tier_of_credential_type
from vocab.validation import translate_errors

MERCURY_CAS = "7439-97-6"
CADMIUM_CAS = "7440-43-9"
LEAD_CAS = "7439-92-1"
# Art 8(2), from 18 August 2031: minimum recycled shares in EV, SLI and industrial batteries
# (above 2 kWh, except those with exclusively external storage).
RECYCLED_MINIMUM_2031 = {"cobalt": 16.0, "lead": 85.0, "lithium": 6.0, "nickel": 6.0}
CHECKS = ("schema", "mandatory", "consistency", "regulation")


def passport_of(document: Any) -> tuple[dict[str, Any], set[str] | None]:
    """The passport data in `document` and the access tiers it shows (None = all: plain passport
    data). Takes a passport, a credential whose subject holds one tier, a presentation, a
    {"verifiableCredential": [...]} answer, or a list of tier credentials."""
    if isinstance(document, dict) and "verifiablePresentation" in document:
        document = document["verifiablePresentation"]
    if isinstance(document, dict) and "verifiableCredential" in document:
        document = document["verifiableCredential"]
    credentials = document if isinstance(document, list) else [document]
    if not credentials or not all(isinstance(c, dict) for c in credentials):
        raise NotADocument("a passport is a JSON object (or a list of tier credentials)")
    if len(credentials) == 1 and "credentialSubject" not in credentials[0]:
        return credentials[0], None
    subjects, tiers = [], set()
    for credential in credentials:
        subject = credential.get("credentialSubject")
        if not isinstance(subject, dict):
            raise NotADocument("a credential without a credentialSubject object")
        types = credential.get("type") or []
        tier = next((tier_of_credential_type(t) for t in types if tier_of_credential_type(t)), None)
        if tier is None and isinstance(subject.get(ACCESS_TIER_FIELD), str):
            tier = Tier(subject[ACCESS_TIER_FIELD])
        if tier is not None:
            tiers.add(tier.value)
        subjects.append({k: v for k, v in subject.items() if k != "id"})
    try:
        merged = merge_tiers(subjects)
    except Exception as exc:  # TierMismatch and friends: two passports mixed
        raise NotADocument(f"the credentials are not tiers of one passport: {exc}") from None
    return merged, (tiers or None)


def _error(check: str, path: str, rule: str, message: str) -> dict[str, str]:
    return {"check": check, "path": path, "rule": rule, "message": message}


def _value(data: dict[str, Any], path: str) -> Any:
    from vocab.paths import parse_path

    found = resolve(data, parse_path(path))
    if not found:
        return None
    value = found[0][1]
    return value.get("value") if isinstance(value, dict) and "value" in value else value


def check(document: Any) -> dict[str, Any]:
    """The conformance report of `document` (see the module docstring)."""
    data, tiers = passport_of(document)
    errors: list[dict[str, str]] = []
    missing: list[dict[str, Any]] = []
    not_shown: list[dict[str, Any]] = []
    warnings: list[dict[str, str]] = []
    passport: Passport | None = None
    try:
        passport = Passport.model_validate(data)
    except ValidationError as exc:
        for error in translate_errors(exc):
            errors.append(_error("schema", error["path"], error["rule"], error["message"]))
    general = data.get("general") if isinstance(data, dict) else None
    category = general.get("batteryCategory") if isinstance(general, dict) else None
    if passport is not None:
        category = passport.general.battery_category.value
    known = category in {c.value for c in BatteryCategory}
    if isinstance(data, dict) and known:
        # the data's own rules run on the raw data too, so one schema error does not hide them
        for attribute in load_catalogue().required_at_first_issuance(BatteryCategory(category)):
            if any(resolve(data, p) for p in attribute.paths):
                continue
            entry = {
                "attribute": attribute.number,
                "name": attribute.name,
                "path": attribute.paths[0].text,
                "tier": attribute.tier.value,
                "regulation": attribute.regulation,
            }
            if tiers is not None and attribute.tier.value not in tiers:
                not_shown.append(entry)
            else:
                missing.append(entry)
        schema_rules = {e["rule"] for e in errors}
        try:
            errors.extend(e for e in _consistency(data) if e["rule"] not in schema_rules)
            reg_errors, reg_warnings = _regulation(data, category)
        except (TypeError, AttributeError, ValueError):  # wrongly typed data: schema said so
            reg_errors, reg_warnings = [], []
        errors.extend(reg_errors)
        warnings.extend(reg_warnings)
    for entry in missing:
        errors.append(
            _error(
                "mandatory",
                entry["path"],
                "mandatory",
                f"attribute {entry['attribute']} ({entry['name']}) is mandatory for "
                f"{category} batteries ({entry['regulation']})",
            )  # fmt: skip
        )
    failed = sorted({e["check"] for e in errors})
    return {
        "conforms": not errors,
        "batteryCategory": category,
        "tiers": sorted(tiers) if tiers is not None else "all",
        "checks": {name: ("failed" if name in failed else "passed") for name in CHECKS}
        if known
        else {"schema": "failed"},
        "errors": errors,
        "missing": missing,
        "notShown": not_shown,
        "warnings": warnings,
    }


def _consistency(data: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    cf = data.get("carbonFootprint") or {}
    stages = cf.get("lifecycleStages") or []
    declared = (cf.get("declaredValue") or {}).get("value")
    if declared is not None and stages:
        total = sum(s.get("value", 0) for s in stages)
        if abs(total - declared) > stage_sum_tolerance(declared):
            out.append(_error("consistency", "carbonFootprint.declaredValue", "stage-sum",
                              f"the stages add up to {total:.6g}, the declared value is "
                              f"{declared}"))  # fmt: skip
    for i, element in enumerate((data.get("circularity") or {}).get("recycledContent") or []):
        pre, post = element.get("preConsumerShare") or 0, element.get("postConsumerShare") or 0
        if pre + post > 100:
            out.append(_error("consistency", f"circularity.recycledContent[{i}]", "share-sum",
                              f"{element.get('material')}: pre- plus post-consumer share is "
                              f"{pre + post} %, more than 100 %"))  # fmt: skip
    rated = (data.get("performance") or {}).get("rated") or {}
    vmin, vnom, vmax = (
        (rated.get(k) or {}).get("value")
        for k in ("minimumVoltage", "nominalVoltage", "maximumVoltage")
    )
    if None not in (vmin, vnom, vmax) and not (vmin <= vnom <= vmax):
        out.append(_error("consistency", "performance.rated.nominalVoltage", "voltage-order",
                          f"minimum {vmin} V <= nominal {vnom} V <= maximum {vmax} V does not "
                          "hold"))  # fmt: skip
    idle = rated.get("idleStateTemperatureRange") or {}
    lower, upper = (idle.get("lower") or {}).get("value"), (idle.get("upper") or {}).get("value")
    if lower is not None and upper is not None and lower >= upper:
        out.append(
            _error(
                "consistency",
                "performance.rated.idleStateTemperatureRange",
                "range-order",
                f"lower {lower} degC is not below upper {upper} degC",
            )
        )
    general = data.get("general") or {}
    made, service = general.get("manufacturingDate"), general.get("puttingIntoServiceDate")
    if made and service and str(service)[:7] < str(made):
        out.append(
            _error(
                "consistency",
                "general.puttingIntoServiceDate",
                "date-order",
                f"put into service ({service}) before it was made ({made})",
            )
        )
    return out


def _concentration(data: dict[str, Any], cas: str) -> float | None:
    for substance in (data.get("materials") or {}).get("hazardousSubstances") or []:
        if substance.get("casNumber") == cas:
            return substance.get("concentration")
    return None


def _regulation(data: dict[str, Any], category: str | None):
    errors, warnings = [], []
    mercury = _concentration(data, MERCURY_CAS)
    if mercury is not None and mercury > 0.0005:
        errors.append(_error("regulation", "materials.hazardousSubstances", "restricted-substance",
                             f"mercury {mercury} % by weight exceeds 0.0005 % (Art 6, Annex I "
                             "entry 1)"))  # fmt: skip
    symbols = {s.get("subject") for s in (data.get("labels") or {}).get("symbols") or []}
    for cas, name, limit in ((CADMIUM_CAS, "cadmium", 0.002), (LEAD_CAS, "lead", 0.004)):
        value = _concentration(data, cas)
        if value is not None and value > limit and name not in symbols:
            errors.append(_error("regulation", f"labels.symbols[subject={name}]", "symbol-required",
                                 f"{name} {value} % exceeds {limit} %: the chemical symbol "
                                 f"{'Cd' if name == 'cadmium' else 'Pb'} must be shown (Art 13(4), "
                                 "Annex VI Part B)"))  # fmt: skip
    if category == "ev" and not data.get("carbonFootprint"):
        errors.append(
            _error(
                "regulation",
                "carbonFootprint",
                "carbon-footprint-required",
                "EV batteries carry a carbon footprint declaration (Art 7(1))",
            )
        )
    made = (data.get("general") or {}).get("manufacturingDate")
    if category in ("ev", "industrial") and made:
        shares = {
            e.get("material"): (e.get("preConsumerShare") or 0) + (e.get("postConsumerShare") or 0)
            for e in (data.get("circularity") or {}).get("recycledContent") or []
        }
        for material, minimum in RECYCLED_MINIMUM_2031.items():
            if material not in shares:
                continue
            if shares[material] < minimum:
                finding = _error("regulation", f"circularity.recycledContent[material={material}]",
                                 "recycled-minimum",
                                 f"{material}: {shares[material]} % recycled; Art 8(2) requires "
                                 f"{minimum} % from 18 August 2031")  # fmt: skip
                (errors if str(made) >= "2031-08" else warnings).append(finding)
    return errors, warnings
