"""Unit conversion for source values: a source declares the unit it delivers (`unit:` in the
mapping, or a unit column), the pipeline converts it to the catalogue's unit. Only linear
conversions of the units the Annex XIII catalogue uses (plus the LCA inputs); anything else is an
error, never a guess.

Unit symbols are the catalogue's (`kg`, `Ah`, `kWh`, `degC`, ...); a few common spellings are
accepted as aliases (`°C`, `mAh`, `Wh`, `g`, `t`).
"""

from __future__ import annotations

from pipeline.errors import UnknownUnit

# unit -> (dimension, factor to the dimension's base unit, offset); value_base = v * factor + offset
_UNITS: dict[str, tuple[str, float, float]] = {
    "kg": ("mass", 1.0, 0.0),
    "g": ("mass", 1e-3, 0.0),
    "mg": ("mass", 1e-6, 0.0),
    "t": ("mass", 1e3, 0.0),
    "Ah": ("charge", 1.0, 0.0),
    "mAh": ("charge", 1e-3, 0.0),
    "kWh": ("energy", 1.0, 0.0),
    "Wh": ("energy", 1e-3, 0.0),
    "MWh": ("energy", 1e3, 0.0),
    "V": ("voltage", 1.0, 0.0),
    "mV": ("voltage", 1e-3, 0.0),
    "kV": ("voltage", 1e3, 0.0),
    "W": ("power", 1.0, 0.0),
    "kW": ("power", 1e3, 0.0),
    "MW": ("power", 1e6, 0.0),
    "ohm": ("resistance", 1.0, 0.0),
    "mohm": ("resistance", 1e-3, 0.0),
    "degC": ("temperature", 1.0, 0.0),
    "K": ("temperature", 1.0, -273.15),
    "degF": ("temperature", 5 / 9, -32 * 5 / 9),
    "%": ("ratio", 1.0, 0.0),
    "%/month": ("rate", 1.0, 0.0),
    "years": ("time-long", 1.0, 0.0),
    "months": ("time-long", 1 / 12, 0.0),
    "min": ("time", 1.0, 0.0),
    "h": ("time", 60.0, 0.0),
    "s": ("time", 1 / 60, 0.0),
    "kgCO2e/kWh": ("carbon-intensity", 1.0, 0.0),
    "gCO2e/kWh": ("carbon-intensity", 1e-3, 0.0),
    "kgCO2e": ("carbon", 1.0, 0.0),
    "tCO2e": ("carbon", 1e3, 0.0),
    "gCO2e": ("carbon", 1e-3, 0.0),
    "W/Wh": ("specific-power", 1.0, 0.0),
    "A/Ah": ("c-rate", 1.0, 0.0),
}
_ALIASES = {
    "°C": "degC",
    "C": "degC",
    "°F": "degF",
    "Ω": "ohm",
    "mΩ": "mohm",
    "kgCO2eq": "kgCO2e",
    "kg CO2e": "kgCO2e",
    "kg CO2-eq": "kgCO2e",
    "kgCO2-eq": "kgCO2e",
    "year": "years",
    "a": "years",
    "percent": "%",
}


def canonical(unit: str) -> str:
    unit = unit.strip()
    return _ALIASES.get(unit, unit)


def known(unit: str) -> bool:
    return canonical(unit) in _UNITS


def convertible(source: str, target: str) -> bool:
    a, b = _UNITS.get(canonical(source)), _UNITS.get(canonical(target))
    return a is not None and b is not None and a[0] == b[0]


def convert(value: float, source: str, target: str) -> float:
    """`value` in `source` units expressed in `target` units; UnknownUnit when the two are not
    the same kind of quantity (kg to Ah) or either is unknown."""
    src, dst = canonical(source), canonical(target)
    if src == dst:
        return value
    a, b = _UNITS.get(src), _UNITS.get(dst)
    if a is None or b is None:
        raise UnknownUnit(f"unknown unit {(source if a is None else target)!r}")
    if a[0] != b[0]:
        raise UnknownUnit(f"{source!r} cannot be converted to {target!r} ({a[0]} vs {b[0]})")
    base = value * a[1] + a[2]
    # round away binary noise (0.1 kWh * 1000 = 100.00000000000001 Wh) so that a value converts
    # to the same number on every engine and every run
    return float(f"{(base - b[2]) / b[1]:.12g}")
