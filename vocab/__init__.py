"""What a battery passport says: vocabulary, attribute catalogue, models, schemas.

- `vocab.context`: the battery JSON-LD context URL, vocabulary namespace and credential type names
  (the file is `contexts/battery-v1.jsonld`, served offline by `vocab.loader`).
- `vocab.catalogue`: the 93 Annex XIII attributes (`catalogue.json`) with access tier, staticity,
  level and applicability per battery category; `Tier` and `who_may_see`.
- `vocab.models`: pydantic models of a passport and of the other credential subjects.
- `vocab.validation.validate_passport`: models plus mandatory attributes at first issuance,
  failures as `PassportInvalid.errors` (`{"path", "rule", "message"}`).
- `vocab.tiers`: `split_by_tier` and `merge_tiers`, driven by the catalogue.
- `vocab.schemas`: the committed tier credential JSON Schemas and `schema_for(url)`.
- `vocab.examples.load_example`: complete EV, LMT and stationary passports.

Nothing here signs, stores or serves anything, and nothing imports another dbp package.

- `vocab.lru`: `Lru`, the one bounded cache (the per-process memos of every package use it).
- `vocab.tiers.tiers_of_credential`: the one tier-of-credential rule (verifier and wallet).

Internal (used only inside `vocab`): `contexts/` (the bundled context files), the model modules
`models.circularity`, `models.due_diligence`, `models.labels`, `models.materials` (reached
through `models.passport`), and `schemas.generate` (regenerates the committed schemas).
"""

__all__ = [
    "bitstring",
    "catalogue",
    "context",
    "datetimes",
    "errors",
    "examples",
    "gs1",
    "integers",
    "json_text",
    "loader",
    "lru",
    "models",
    "operator_identity",
    "paths",
    "problems",
    "related",
    "schemas",
    "tiers",
    "urls",
    "validation",
    "vcdm",
]
