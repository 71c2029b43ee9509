"""The data pipeline: from the manufacturer's systems to issued passports, validated, calculated
and traced (`dbp pipeline ...`, README "Pipeline").

Imports point downward only: `vocab`, `infra` (the one outbound fetch) and third-party
libraries. Passports reach the issuer over HTTP (`POST /batteries:bulk`,
`/batteries/{id}/passport`, `/batteries/{id}/events`) with an operator's token, as any client;
`api.make_router` takes the service's authentication and configuration as parameters.

Module map (in the order a run uses them):

- `config.py`: the YAML configuration: sources, field -> attribute path / calculation input
  mappings with units, conflict rules, methodologies, lineage transport; checked against the
  catalogue
- `connectors.py`: getting raw data: file drops (path/glob, local or fsspec URL), HTTP pull (bearer
  / API key, paging, incremental by timestamp or cursor, retries with backoff), push receipts
- `push.py`: the push API's storage: request bodies staged per Idempotency-Key
- `staging.py`: the content-addressed object store (fsspec: local folder, S3 via s3fs)
- `formats.py`: reading CSV, JSON, JSON Lines, Parquet (pyarrow), Excel (openpyxl) into records
  with row numbers
- `records.py`: records -> facts and calculation inputs: GS1 keys, units, per-type rules of the
  vocabulary, passport fragments; a broken rule rejects the record
- `quarantine.py`: rejected records with field, path and rule; fixes and overrides (`quarantine
  list/show/retry`)
- `transforms.py`: the correlation SQL, written once (DuckDB dialect): resolve, conflicts, items,
  aggregate inputs, inherit
- `engines.py`: DuckDB (default, extensions never loaded) and Spark (sqlglot-transpiled SQL, local
  mode)
- `calculations.py`: the regulatory calculations as pure functions with methodology versions
- `assemble.py`: passports from (path, value) pairs; static vs dynamic split; hashes
- `conformance.py`: conformance of any passport: schema, mandatory per category, consistency,
  regulation rules
- `issuance.py`: the HTTP client of the passport service (bulk with Idempotency-Key, versions,
  events)
- `lineage.py`: OpenLineage events (file or HTTP transport) and the per-value lineage answer
- `state.py`: the pipeline's SQLite state: runs, source objects, cursors, quarantine, issued
  hashes, lineage
- `run.py`: one run, stage by stage, with exactly-once issuance
- `cli.py`: `dbp pipeline run/report/lineage/quarantine` and `dbp passport check`
- `api.py`: `POST /ingest/{source}` and `POST /conformance/check` (issuer role)
- `errors.py`: the exceptions, each with its RFC 9457 problem code and status

Public (used by the service and portal): `api`, `cli`, `config`, `errors`, `lineage`, `state`.
Internal (used only inside `pipeline`): every other module above. HTTP sources are fetched
through the one outbound-fetch function (`infra.fetch`).
"""

__all__ = [
    "api",
    "cli",
    "config",
    "errors",
    "lineage",
    "state",
]
