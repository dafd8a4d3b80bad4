"""Each registry layer's features live in a partition of layers_feature of
their own, `layers_feature_<layer id>` (migration 0008; docs/decisions.md,
"A partition per registry layer").

A new partition is built apart, as a plain table shaped like one: the
parent's columns and defaults (ids from the shared sequence), a
`CHECK (layer_id = N)` so that ATTACH need not scan it, the parent's primary
key and indexes (so ATTACH adopts them instead of building them while
holding the parent's lock). `partition_swap` then puts
it in the layer's place in the caller's transaction: the old partition is
detached and dropped, the layer's rows in the DEFAULT partition deleted, the
new one attached. Detaching takes an ACCESS EXCLUSIVE lock on layers_feature:
readers of every layer wait for the swap's commit, which therefore does
little else.

The properties' indexes are each partition's own (migration 0010): a GIN
`jsonb_path_ops` for equality filters on any field, less the layer's
`distinct_fields`, string fields whose values nearly all differ (a name, an
address, a code), which a replace import finds in a sample of what it loaded
(`distinct_fields_choose`) and indexes each by a btree on `properties ->>`.
PostgreSQL 15 puts each distinct key of a GIN build into the tree one at a
time: at 1M rows a name made 3.3 s of a 5 s GIN, and its btree takes 0.8 s.
A filter states its condition both ways (selectors.py,
`properties_equal_sql`): the containment that decides it, and what the
partition's indexes serve.

In Citus mode (DATABASE_DISTRIBUTION=citus) layers_feature and its partitions
stay tables of the coordinator (dossiers/citus.py, LOCAL_TABLES)."""

from concurrent.futures import ThreadPoolExecutor

from django.db import connection, transaction

PARENT = "layers_feature"
DEFAULT_PARTITION = "layers_feature_default"
# The swap's DETACH waits for every open transaction that read layers_feature,
# and every later reader of any layer queues behind it: it gives up instead
# (the caller retries, then fails the import with the layer unchanged).
SWAP_LOCK_TIMEOUT_S = 5
# A layer's string field gets a btree instead of a place in the GIN when the
# layer has at least DISTINCT_MIN_ROWS rows and, of the values in a sample of
# about DISTINCT_SAMPLE_ROWS rows (whole pages, the same ones every time), at
# least DISTINCT_SHARE differ. Below that many rows the GIN takes well under
# a second whatever the values.
DISTINCT_MIN_ROWS = 20_000
DISTINCT_SAMPLE_ROWS = 10_000
DISTINCT_SHARE = 0.9


def partition_name(layer_id: int) -> str:
    return f"{PARENT}_{int(layer_id)}"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _rows(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _run(*statements: str) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def partition_attached(layer_id: int) -> str | None:
    """The name of the layer's attached partition, or None (its rows, if any,
    are in the DEFAULT partition)."""
    rows = _rows(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = %s::regclass AND c.relname = %s""",
        [PARENT, partition_name(layer_id)],
    )
    return rows[0][0] if rows else None


def partition_table_create(*, table: str, layer_id: int) -> None:
    """An empty plain table shaped like the layer's partition (no indexes
    yet: load it first, then `partition_table_index`). Any table of that
    name, left by an interrupted run, is dropped first."""
    _run(
        f"DROP TABLE IF EXISTS {_q(table)}",
        f"CREATE TABLE {_q(table)} (LIKE {PARENT} INCLUDING DEFAULTS)",
        f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(partition_name(layer_id) + '_layer')} "
        f"CHECK (layer_id = {int(layer_id)})",
    )


def _sql_text(value: str) -> str:
    """`value` as an SQL string literal (standard_conforming_strings, the
    default since PostgreSQL 9.1): written into statements whose expressions
    must match an index's, which a parameter of a generic plan does not."""
    return "'" + value.replace("'", "''") + "'"


def properties_gin_expression(distinct_fields: list[str], column: str = "properties") -> str:
    """What a partition's GIN indexes: the properties less the distinct fields."""
    if not distinct_fields:
        return column
    elements = ",".join('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"' for name in distinct_fields)
    return f"({column} - {_sql_text('{' + elements + '}')}::text[])"


def properties_key_expression(name: str, column: str = "properties") -> str:
    """What a partition's btree on a distinct field indexes: its value as text."""
    return f"({column} ->> {_sql_text(name)})"


def properties_index_builds(table: str, distinct_fields: list[str]) -> list[str]:
    """The statements that index a partition's properties (module docstring)."""
    gin = properties_gin_expression(distinct_fields)
    builds = [f"CREATE INDEX ON {_q(table)} USING gin ({gin} jsonb_path_ops)"]
    builds += [f"CREATE INDEX ON {_q(table)} ({properties_key_expression(name)})" for name in distinct_fields]
    return builds


def distinct_fields_choose(table: str, fields: list[dict], rows: int) -> list[str]:
    """The string fields of `fields` (a layer's schema) whose values nearly
    all differ in `table`, by the module's rule, from a sample of it."""
    names = [f["name"] for f in fields if f.get("type") == "string" and f.get("name")]
    if rows < DISTINCT_MIN_ROWS or not names:
        return []
    percent = min(100.0, 100.0 * DISTINCT_SAMPLE_ROWS / rows)
    keys = [properties_key_expression(name) for name in names]
    counts = ", ".join(f"count({key}), count(DISTINCT {key})" for key in keys)
    # No parameters: a field's name may hold a "%".
    (row,) = _rows(f"SELECT {counts} FROM {_q(table)} TABLESAMPLE SYSTEM ({percent!r}) REPEATABLE (0)")
    chosen = []
    for i, name in enumerate(names):
        values, distinct = row[2 * i], row[2 * i + 1]
        if values and distinct >= DISTINCT_SHARE * values:
            chosen.append(name)
    return chosen


def partition_table_index(table: str, distinct_fields: list[str] = ()) -> None:
    """The parent's primary key and indexes on `table`, built after its rows
    are in (a sorted GiST and a GIN in one pass each), the properties'
    indexes for `distinct_fields` (module docstring), and fresh statistics.
    Outside a transaction (an import: the table is committed) the
    properties' indexes, the longest, are built in a second session while
    this one builds the rest: CREATE INDEX takes a SHARE lock, which two
    builds share; the primary key is made from its unique index once both
    are done. The foreign key to layers_layer is left to ATTACH (it
    validates it: about 0.3 s at 1M rows): on a table that a killed import
    left behind it would keep the layer from being deleted."""
    (key,) = _rows(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
        [PARENT],
    )[0]
    key_index = f"{table}_pkey"
    builds = [f"CREATE UNIQUE INDEX {_q(key_index)} ON {_q(table)} {key.removeprefix('PRIMARY KEY ')}"]
    for (definition,) in _rows(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass AND NOT indisprimary",
        [PARENT],
    ):
        # "CREATE INDEX name ON ONLY public.layers_feature USING ...": the same on the table.
        builds.append(f"CREATE INDEX ON {_q(table)} USING {definition.partition(' USING ')[2]}")
    properties = properties_index_builds(table, list(distinct_fields))
    if connection.in_atomic_block:
        _build(builds + properties)
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(_build_in_own_session, [properties, builds]))
    with transaction.atomic(), connection.cursor() as cursor:
        key_sql = f"ADD CONSTRAINT {_q(key_index)} PRIMARY KEY USING INDEX {_q(key_index)}"
        cursor.execute(f"ALTER TABLE {_q(table)} {key_sql}")
        cursor.execute(f"ANALYZE {_q(table)}")


def _build(statements: list[str]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # A GIN built from 1M rows in the default 64 MB flushes its lists many times.
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for sql in statements:
            cursor.execute(sql)


def _build_in_own_session(statements: list[str]) -> None:
    """In a worker thread: Django gives it a connection of its own."""
    try:
        _build(statements)
    finally:
        connection.close()


def partition_swap(*, layer_id: int, table: str) -> None:
    """`table` (made by partition_table_create and _index) becomes the
    layer's partition; the features the layer had are dropped. Inside the
    caller's transaction, which should hold the layer's row lock."""
    name = partition_name(layer_id)
    old = partition_attached(layer_id)
    # Deferred foreign-key checks of rows this transaction wrote would forbid
    # the DETACH ("pending trigger events"): they run now instead of at commit.
    statements = ["SET CONSTRAINTS ALL IMMEDIATE", f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT_S}s'"]
    if old is not None:
        statements += [f"ALTER TABLE {PARENT} DETACH PARTITION {_q(old)}", f"DROP TABLE {_q(old)}"]
    statements.append(f"DELETE FROM {DEFAULT_PARTITION} WHERE layer_id = {int(layer_id)}")
    if table != name:
        statements.append(f"ALTER TABLE {_q(table)} RENAME TO {_q(name)}")
    statements.append(f"ALTER TABLE {PARENT} ATTACH PARTITION {_q(name)} FOR VALUES IN ({int(layer_id)})")
    _run(*statements)


def layer_partition_ensure(layer_id: int) -> None:
    """Give the layer its own partition if it has none yet, moving its rows
    out of the DEFAULT partition. Inside the caller's transaction."""
    if partition_attached(layer_id) is not None:
        return
    table = partition_name(layer_id)
    partition_table_create(table=table, layer_id=layer_id)
    _run(f"INSERT INTO {_q(table)} SELECT * FROM {DEFAULT_PARTITION} WHERE layer_id = {int(layer_id)}")
    partition_table_index(table)
    partition_swap(layer_id=layer_id, table=table)


def layer_partition_drop(layer_id: int) -> None:
    """Drop the layer's partition (its features go with it). Inside the
    caller's transaction."""
    name = partition_attached(layer_id)
    if name is not None:
        detach = f"ALTER TABLE {PARENT} DETACH PARTITION {_q(name)}"
        _run("SET CONSTRAINTS ALL IMMEDIATE", detach, f"DROP TABLE {_q(name)}")
