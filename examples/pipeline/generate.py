"""Generate the example pipeline's source data (deterministic: run it again, get the same bytes).

    python examples/pipeline/generate.py [--out DIR] [--scale N]

Two battery models: an EV pack (600 batteries, 6 lots) and a stationary storage system (450
batteries, 5 lots), described by six sources as a manufacturer's systems would deliver them:

- erp/batteries.csv      ERP: every battery (GTIN, serial, lot, status)            item level
- erp/lots.csv           ERP: manufacturing month and plant per lot                 batch level
- plm/models.json        PLM: the model's static passport data (a passport fragment) model level
- lca/lca-export.json    LCA tool export: kg CO2e per battery by process and stage  model level
- bom/materials.csv      bill of materials: material masses and recycled masses     model level
- testlab/results.xlsx   test lab: Annex IV test results per sample                 model level
- telemetry/readings.parquet  BMS telemetry: state of charge, cycles, temperatures  item level
- supplier/declarations.json  served by supplier_api.py: the cell supplier's declarations

Deliberate errors (each must end in the quarantine, nothing else):
 1. erp/batteries.csv    a GTIN with a wrong check digit                 rule gs1-key
 2. erp/batteries.csv    a serial with a space (not GS1 AI 21 characters) rule gs1-key
 3. bom/materials.csv    a negative mass                                 rule non-negative
 4. testlab/results.xlsx a capacity reported in Wh (Ah expected)         rule unit
 5. telemetry            a state of charge of 134 %                      rule maximum
 6. supplier API         a rated capacity "n/a"                          rule type
 7. lca/lca-export.json  a "use" stage row (excluded by Annex II)        rule allowed-values
Deliberate conflicts (reported, decided by the declared rule):
 - stationary rated capacity: PLM 280 Ah vs supplier 282 Ah, rule latest -> supplier
 - EV nominal voltage: PLM 394.2 V vs test lab 394.0 V, rule priority -> PLM
 - each model's due diligence report: PLM vs supplier URL, rule priority -> PLM
Deliberately incomplete: lot ESS-2605 has no row in erp/lots.csv, so its 10 batteries lack the
manufacturing date (Annex XIII 1(a)) and are reported, not issued.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from vocab.examples import load_example  # noqa: E402


def gtin(prefix13: str) -> str:
    digits = [int(c) for c in prefix13]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return prefix13 + str((10 - total % 10) % 10)


EV, ESS = gtin("0401234500001"), gtin("0401234500002")
MODELS = {
    EV: {"example": "ev", "name": "VX75 EV battery pack", "prefix": "VX", "lots": 6,
         "per_lot": 100},
    ESS: {"example": "stationary", "name": "ESS215 storage system", "prefix": "ESS", "lots": 5,
          "per_lot": 110},
}  # fmt: skip
LAST_LOT_SIZE = {ESS: 10}
MISSING_LOT = "ESS-2605"


def lots(model: str) -> list[tuple[str, int]]:
    spec = MODELS[model]
    out = []
    for i in range(spec["lots"]):
        size = spec["per_lot"]
        if i == spec["lots"] - 1 and model in LAST_LOT_SIZE:
            size = LAST_LOT_SIZE[model]
        out.append((f"{spec['prefix']}-26{i + 1:02d}", size))
    return out


def fragment(model: str) -> dict:
    """The PLM's model data: the vocab example minus what is per item, per lot or calculated."""
    p = load_example(MODELS[model]["example"])
    for key in ("passportId", "passportVersion", "batteryIdentifier", "backupReference",
                "lifecycle"):  # fmt: skip
        p.pop(key, None)
    p["general"].pop("manufacturingDate", None)
    p["general"].pop("puttingIntoServiceDate", None)
    p["labels"]["symbols"] = [
        s for s in p["labels"]["symbols"] if s["subject"] != "carbon-footprint"
    ]
    cf = p["carbonFootprint"]
    p["carbonFootprint"] = {k: cf[k] for k in ("publicStudyUrl", "declarationOfConformityId",
                                               "manufacturingFacility")}  # fmt: skip
    p["circularity"].pop("recycledContent", None)
    perf = p["performance"]
    perf.pop("condition", None)
    perf.pop("durability", None)
    for k in (
        "initialRoundTripEfficiency",
        "roundTripEfficiencyAt50PercentCycleLife",
        "originalPowerCapability",
        "powerToEnergyRatio",
        "initialInternalResistance",
    ):
        perf["rated"].pop(k, None)
    # No operator identifier: the issuing operator's DID is filled in at issuance (a passport
    # names the operator that signs it, issuer/operator_identity.py).
    p["general"]["operator"].pop("identifier", None)
    return p


def csv_bytes(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def generate(out: Path, scale: int = 1) -> dict[str, int]:
    rnd = random.Random(17)
    files: dict[str, bytes] = {}
    base = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    # ERP: batteries and lots
    rows, serials = [], []
    for model in MODELS:
        for lot, size in lots(model):
            for n in range(size * scale):
                serial = f"{MODELS[model]['prefix']}{lot[-4:]}{n + 1:05d}"
                serials.append((model, lot, serial))
                stamp = base + timedelta(minutes=len(rows))
                rows.append([model, serial, lot, "original", stamp.strftime("%Y-%m-%dT%H:%M:%SZ")])
    bad_gtin = EV[:-1] + str((int(EV[-1]) + 1) % 10)
    rows.insert(17, [bad_gtin, "VX2601BAD01", "VX-2601", "original", "2026-01-05T09:00:00Z"])
    rows.insert(420, [EV, "VX 2602 0999", "VX-2602", "original", "2026-01-05T09:01:00Z"])
    files["erp/batteries.csv"] = csv_bytes(["gtin", "serial", "lot", "status", "updated_at"], rows)
    lot_rows = []
    for model in MODELS:
        for i, (lot, _) in enumerate(lots(model)):
            if lot == MISSING_LOT:
                continue
            lot_rows.append([model, lot, f"2026-{i + 1:02d}", "BPNA1234567890AA"])
    files["erp/lots.csv"] = csv_bytes(["gtin", "lot", "manufacturing_month", "plant"], lot_rows)

    # PLM
    plm = {"exportedAt": "2026-01-02T07:00:00Z", "models": []}
    for model in MODELS:
        plm["models"].append(
            {
                "gtin": model,
                "name": MODELS[model]["name"],
                "updated": "2026-01-02T07:00:00Z",
                "passport": fragment(model),
            }
        )
    files["plm/models.json"] = json.dumps(plm, indent=1, ensure_ascii=False).encode()

    # LCA export: kg CO2e per battery by process
    processes = {
        EV: [("cathode active material (NMC811)", "rawMaterialAcquisitionAndPreProcessing", 2310.0),
             ("anode graphite", "rawMaterialAcquisitionAndPreProcessing", 612.5),
             ("electrolyte and separator", "rawMaterialAcquisitionAndPreProcessing", 244.0),
             ("aluminium housing and copper", "rawMaterialAcquisitionAndPreProcessing", 845.0),
             ("cell manufacturing", "mainProductProduction", 905.0),
             ("module and pack assembly", "mainProductProduction", 279.0),
             ("transport to vehicle plant", "distribution", 78.3),
             ("collection and recycling", "endOfLifeAndRecycling", 303.4),
             ("driving (use stage)", "use", 9000.0)],
        ESS: [("cathode active material (LFP)", "rawMaterialAcquisitionAndPreProcessing", 6850.0),
              ("anode graphite", "rawMaterialAcquisitionAndPreProcessing", 2100.0),
              ("steel enclosure", "rawMaterialAcquisitionAndPreProcessing", 1040.0),
              ("cell manufacturing", "mainProductProduction", 2870.0),
              ("system assembly", "mainProductProduction", 730.0),
              ("shipping to site", "distribution", 465.0),
              ("collection and recycling", "endOfLifeAndRecycling", 812.0)],
    }  # fmt: skip
    lca = {"tool": "ExampleLCA 4.2", "exportedAt": "2026-01-03T12:00:00Z", "results": []}
    for model, rows_ in processes.items():
        for process, stage, amount in rows_:
            lca["results"].append({"product": {"gtin": model, "name": MODELS[model]["name"]},
                                   "process": process, "stage": stage,
                                   "impact": {"amount": amount, "unit": "kg CO2e"},
                                   "updated": "2026-01-03T12:00:00Z"})  # fmt: skip
    files["lca/lca-export.json"] = json.dumps(lca, indent=1).encode()

    # bill of materials (grams per battery, recycled grams)
    bom = {
        EV: [("cathode", "nickel", 52000, 1040, 1560), ("cathode", "cobalt", 6500, 260, 520),
             ("cathode", "lithium", 5600, 56, 140), ("electrolyte", "lithium", 2200, 22, 55),
             ("cathode", "manganese", 6100, 0, 0), ("anode", "graphite", 56000, 0, 0),
             ("housing", "aluminium", 118000, 12000, 23600), ("busbars", "copper", 38000, 0, 7600)],
        ESS: [("cathode", "lithium", 14800, 296, 592), ("cathode", "iron phosphate", 182000, 0, 0),
              ("cathode", "nickel", 0, 0, 0), ("cathode", "cobalt", 0, 0, 0),
              ("anode", "graphite", 98000, 0, 0), ("enclosure", "steel", 410000, 41000, 123000)],
    }  # fmt: skip
    bom_rows = [[m, c, mat, mass, pre, post] for m, items in bom.items()
                for c, mat, mass, pre, post in items]  # fmt: skip
    bom_rows.insert(5, [EV, "cable harness", "copper", -1200, 0, 0])
    files["bom/materials.csv"] = csv_bytes(
        ["gtin", "component", "material", "mass_g", "pre_consumer_recycled_g",
         "post_consumer_recycled_g"], bom_rows)  # fmt: skip

    # test lab workbook
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "results"
    ws.append(["sample", "gtin", "tested", "capacity_initial", "capacity_end", "capacity_unit",
               "power_initial_kw", "power_end_kw", "p80_kw", "p20_kw", "e_in_kwh", "e_out_kwh",
               "e_in50_kwh", "e_out50_kwh", "r_cell_initial_mohm", "r_cell_end_mohm",
               "r_module_initial_mohm", "r_module_end_mohm", "r_pack_initial_mohm",
               "r_pack_end_mohm", "nominal_voltage_v"])  # fmt: skip
    specs = {EV: (192.0, 153.6, 240.0, 180.0, 240.0, 175.0, 75.5, 72.48, 75.5, 67.2, 0.65, 0.975,
                  8.2, 12.3, 78.0, 117.0, 394.0),
             ESS: (280.0, 224.0, 108.0, 86.4, 108.0, 104.0, 225.0, 213.75, 225.0, 209.25, 0.18,
                   0.252, 6.2, 8.68, 52.0, 72.8, 768.0)}  # fmt: skip
    for model, s in specs.items():
        for k in range(3):
            jitter = [round(v * (1 + (k - 1) * 0.002), 4) for v in s[:-1]]
            unit = "Ah"
            if model == ESS and k == 2:
                unit = "Wh"
            ws.append([f"{MODELS[model]['prefix']}-S{k + 1}", model,
                       datetime(2025, 11, 3 + k, tzinfo=None), jitter[0], jitter[1], unit,
                       *jitter[2:], s[-1]])  # fmt: skip
    buffer = io.BytesIO()
    wb.properties.created = datetime(2026, 1, 1)
    wb.properties.modified = datetime(2026, 1, 1)
    wb.save(buffer)
    files["testlab/results.xlsx"] = buffer.getvalue()

    # telemetry: two readings per battery (the later one counts)
    import pyarrow as pa
    import pyarrow.parquet as pq

    tele: dict[str, list] = {k: [] for k in ("gtin", "serial", "recorded_at", "soc_pct", "cycles",
                                             "remaining_capacity_ah", "temp_min_c", "temp_max_c",
                                             "temp_last_c")}  # fmt: skip
    for idx, (model, _lot, serial) in enumerate(serials):
        capacity = 192.0 if model == EV else 280.0
        for r in range(2):
            tele["gtin"].append(model)
            tele["serial"].append(serial)
            tele["recorded_at"].append(f"2026-02-{10 + r:02d}T06:{idx % 60:02d}:00Z")
            soc = round(rnd.uniform(20, 95), 1)
            if idx == 33 and r == 0:
                soc = 134.0
            tele["soc_pct"].append(soc)
            tele["cycles"].append(rnd.randint(0, 40) + r * 5)
            tele["remaining_capacity_ah"].append(round(capacity * rnd.uniform(0.985, 1.0), 1))
            tele["temp_min_c"].append(round(rnd.uniform(-8, 10), 1))
            tele["temp_max_c"].append(round(rnd.uniform(25, 41), 1))
            tele["temp_last_c"].append(round(rnd.uniform(12, 24), 1))
    buffer = io.BytesIO()
    pq.write_table(pa.table(tele), buffer, compression="zstd")
    files["telemetry/readings.parquet"] = buffer.getvalue()

    # the supplier's declarations (served by supplier_api.py)
    declarations = [
        {"gtin": ESS, "declared_at": "2026-01-04T10:00:00Z", "rated_capacity_ah": 282.0,
         "due_diligence_report": "https://cells.example.net/reports/dd-2025.pdf"},
        {"gtin": EV, "declared_at": "2025-12-01T10:00:00Z", "rated_capacity_ah": "n/a",
         "due_diligence_report": "https://cells.example.net/reports/dd-2025.pdf"},
        {"gtin": EV, "declared_at": "2026-01-04T10:00:00Z", "rated_capacity_ah": 192.0,
         "due_diligence_report": "https://cells.example.net/reports/dd-2025.pdf"},
    ]  # fmt: skip
    files["supplier/declarations.json"] = json.dumps({"declarations": declarations},
                                                     indent=1).encode()  # fmt: skip
    for name, data in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return {"batteries": len(serials), "telemetry": len(tele["gtin"])}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    print(generate(args.out, args.scale))
