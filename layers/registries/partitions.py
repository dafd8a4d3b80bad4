"""Each registry layer's features live in a partition of layers_feature of
their own, `layers_feature_<layer id>` (migration 0008; docs/decisions.md,
"A partition per registry layer").

A new partition is built apart, as a plain table shaped like one: the
parent's columns and defaults (ids from the shared sequence), a
`CHECK (layer_id = N)` so that ATTACH need not scan it, the parent's primary
key, indexes and foreign keys (so ATTACH adopts them instead of building or
validating them while holding the parent's lock). `partition_swap` then puts
it in the layer's place in the caller's transaction: the old partition is
detached and dropped, the layer's rows in the DEFAULT partition deleted, the
new one attached. Detaching takes an ACCESS EXCLUSIVE lock on layers_feature:
readers of every layer wait for the swap's commit, which therefore does
little else.

In Citus mode (DATABASE_DISTRIBUTION=citus) layers_feature and its partitions
stay tables of the coordinator (dossiers/citus.py, LOCAL_TABLES)."""

from django.db import connection

PARENT = "layers_feature"
DEFAULT_PARTITION = "layers_feature_default"


def partition_name(layer_id: int) -> str:
    return f"{PARENT}_{int(layer_id)}"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _rows(sql: str, params=()) -> list[tuple]:
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


def partition_table_index(table: str) -> None:
    """The parent's primary key, indexes and foreign keys on `table` (after
    its rows are in: a sorted GiST and a GIN built in one pass each), and
    fresh statistics."""
    with connection.cursor() as cursor:
        # A GIN built from 1M rows in 64 MB flushes its lists many times.
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for (definition,) in _rows(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
            [PARENT],
        ):
            cursor.execute(f"ALTER TABLE {_q(table)} ADD {definition}")
        for (definition,) in _rows(
            """SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
               WHERE i.indrelid = %s::regclass AND NOT i.indisprimary""",
            [PARENT],
        ):
            # "CREATE INDEX name ON ONLY public.layers_feature USING ...": the same on the table.
            _head, _, method = definition.partition(" USING ")
            cursor.execute(f"CREATE INDEX ON {_q(table)} USING {method}")
        for (definition,) in _rows(
            """SELECT pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid = %s::regclass AND contype = 'f' AND conparentid = 0""",
            [PARENT],
        ):
            cursor.execute(f"ALTER TABLE {_q(table)} ADD {definition}")
        cursor.execute(f"ANALYZE {_q(table)}")


def partition_swap(*, layer_id: int, table: str) -> None:
    """`table` (made by partition_table_create and _index) becomes the
    layer's partition; the features the layer had are dropped. Inside the
    caller's transaction, which should hold the layer's row lock."""
    name = partition_name(layer_id)
    old = partition_attached(layer_id)
    statements = []
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
        _run(f"ALTER TABLE {PARENT} DETACH PARTITION {_q(name)}", f"DROP TABLE {_q(name)}")
