"""The transformations of a run, each written once as SQL (DuckDB's dialect) and run unchanged on
DuckDB or, transpiled by sqlglot, on Spark (`pipeline.engines`). Tables they read:

- `facts(fact_id, source, priority, ts, level, gtin, batch, serial, path, value)`: one value
  (canonical JSON text) for one passport path of a model (batch = serial = ''), a batch
  (serial = '') or an item;
- `inputs(fact_id, source, level, gtin, batch, serial, name, qualifier, num, ts)`: numbers for the
  regulatory calculations;
- `registrations(fact_id, source, priority, ts, gtin, serial, batch)`: the batteries that exist;
- `rules(path, rule)`: paths whose conflict rule differs from the default;
- `resolved(...)`: RESOLVE's result plus the calculated values, for INHERIT.

Correlation. Within one source, the latest record of an entity wins (an update, not a conflict).
Across sources, values for the same entity and path that differ are a conflict: the declared rule
picks the winner (`priority`: lowest number, then latest; `latest`: latest timestamp, then
priority) and CONFLICTS reports every candidate. Items then inherit: an item's own value, else its
batch's, else its model's (INHERIT). INHERIT answers fact ids, not values: a model's values
(passport fragments of several KiB) would otherwise be copied once per battery; the caller looks
the values up, and orders nothing it does not need ordered.
"""

from __future__ import annotations

_LATEST_PER_SOURCE = """
per_source AS (
  SELECT fact_id, source, priority, ts, level, gtin, batch, serial, path, value,
         ROW_NUMBER() OVER (PARTITION BY level, gtin, batch, serial, path, source
                            ORDER BY ts DESC, fact_id DESC) AS rn
  FROM facts
),
latest AS (
  SELECT fact_id, source, priority, ts, level, gtin, batch, serial, path, value
  FROM per_source WHERE rn = 1
)"""


def resolve_sql(default_rule: str) -> str:
    """One winning value per entity and path."""
    if default_rule not in ("priority", "latest"):
        raise ValueError(default_rule)
    return f"""
WITH {_LATEST_PER_SOURCE},
ranked AS (
  SELECT l.fact_id, l.source, l.priority, l.ts, l.level, l.gtin, l.batch, l.serial, l.path,
         l.value,
         ROW_NUMBER() OVER (
           PARTITION BY l.level, l.gtin, l.batch, l.serial, l.path
           ORDER BY CASE WHEN COALESCE(r.rule, '{default_rule}') = 'latest' THEN l.ts ELSE '' END
                    DESC,
                    l.priority ASC, l.ts DESC, l.source ASC, l.fact_id DESC) AS pick
  FROM latest l LEFT JOIN rules r ON r.path = l.path
)
SELECT fact_id, source, priority, ts, level, gtin, batch, serial, path, value
FROM ranked WHERE pick = 1
"""


CONFLICTS = f"""
WITH {_LATEST_PER_SOURCE},
disputed AS (
  SELECT level, gtin, batch, serial, path
  FROM latest
  GROUP BY level, gtin, batch, serial, path
  HAVING COUNT(DISTINCT value) > 1
)
SELECT l.level, l.gtin, l.batch, l.serial, l.path, l.source, l.priority, l.ts, l.value, l.fact_id
FROM latest l
JOIN disputed d ON d.level = l.level AND d.gtin = l.gtin AND d.batch = l.batch
  AND d.serial = l.serial AND d.path = l.path
ORDER BY l.level, l.gtin, l.batch, l.serial, l.path, l.source
"""

ITEMS = """
WITH ranked AS (
  SELECT gtin, serial, batch, fact_id,
         ROW_NUMBER() OVER (PARTITION BY gtin, serial
                            ORDER BY priority ASC, ts DESC, fact_id DESC) AS rn
  FROM registrations
)
SELECT gtin, serial, batch, fact_id FROM ranked WHERE rn = 1 ORDER BY gtin, serial
"""

AGGREGATE_INPUTS = """
SELECT level, gtin, batch, serial, name, qualifier,
       SUM(num) AS total, AVG(num) AS mean, COUNT(*) AS n,
       ARRAY_AGG(fact_id) AS fact_ids
FROM inputs
GROUP BY level, gtin, batch, serial, name, qualifier
ORDER BY level, gtin, batch, serial, name, qualifier
"""

INHERIT = """
WITH candidates AS (
  SELECT i.gtin, i.serial, i.batch AS item_batch, r.path, r.fact_id, r.level, 0 AS depth
  FROM items i JOIN resolved r
    ON r.level = 'item' AND r.gtin = i.gtin AND r.serial = i.serial
  UNION ALL
  SELECT i.gtin, i.serial, i.batch AS item_batch, r.path, r.fact_id, r.level, 1 AS depth
  FROM items i JOIN resolved r
    ON r.level = 'batch' AND r.gtin = i.gtin AND r.batch = i.batch
  UNION ALL
  SELECT i.gtin, i.serial, i.batch AS item_batch, r.path, r.fact_id, r.level, 2 AS depth
  FROM items i JOIN resolved r
    ON r.level = 'model' AND r.gtin = i.gtin
),
ranked AS (
  SELECT gtin, serial, item_batch, path, fact_id, level,
         ROW_NUMBER() OVER (PARTITION BY gtin, serial, path ORDER BY depth ASC) AS rn
  FROM candidates
)
SELECT gtin, serial, item_batch AS batch, path, fact_id, level
FROM ranked WHERE rn = 1
"""
