"""Turns a migrated portal database on a Citus coordinator into the national
layout (`manage.py citus_distribute`, after `migrate`; docs/decisions.md,
"Citus shards by province"):

- the dossier tables are distributed by `province_code`, colocated with the
  dossiers, so one province's dossier, events, counters and counts live in
  one shard group;
- every other table (catalogue, units, agencies, service points, users,
  registries, ...) becomes a reference table, copied to every node, so joins
  from a shard to them stay on the node.

Citus wants the distribution column in every primary key and unique
constraint of a distributed table and in the foreign keys between them, and
keeps no foreign key from a reference table to a distributed one. So the
foreign keys are taken off, the tables converted, and the keys put back:
between distributed tables rewritten to include `province_code`, from other
tables to the dossier tables not at all (`DROPPED_REASON`; the services that
write those rows check the dossier themselves). Safe to run again: a table
already in Citus's metadata is left as it is."""

import re
from dataclasses import dataclass

from django.db import connection

DISTRIBUTION_COLUMN = "province_code"
# The first is the colocation anchor.
DISTRIBUTED_TABLES = (
    "dossiers_dossier",
    "dossiers_dossierevent",
    "dossiers_codecounter",
    "dossiers_dailystat",
    "dossiers_densitycount",
    "dossiers_densitydaycount",
    "dossiers_densityquartercount",
)
# Owned by extensions: they manage them on every node themselves.
SKIPPED_TABLES = ("spatial_ref_sys",)
# Partitioned by layer (a partition per registry layer, made and swapped by
# imports: layers/registries/partitions.py). Citus cannot make a partitioned
# table a reference table, and the registries are read on the coordinator,
# so it stays a plain table there with its partitions; its key to layers_layer
# (a reference table) is dropped, see LOCAL_REASON.
LOCAL_TABLES = ("layers_feature",)
LOCAL_REASON = (
    "the registry features stay a partitioned table of the coordinator; Citus keeps no foreign key from it to a "
    "reference table, and features are written only through the registry services of an existing layer"
)
TRIGGER_REASON = (
    "a trigger on a reference table would run on every node's copy; the ones there are "
    "(layers_units_version_bump, the units cache version, is bumped by nothing in this mode; without "
    "dossiers_lookup_version_bump, dossiers.lookups keeps nothing)"
)
DROPPED_REASON = (
    "Citus keeps no foreign key from a reference table to a distributed one; the row's dossier is checked by "
    "the service that writes it"
)


@dataclass(frozen=True)
class ForeignKey:
    table: str
    name: str
    definition: str
    referenced: str
    columns: tuple[str, ...]


@dataclass
class Report:
    distributed: list[str]
    reference: list[str]
    keys_widened: list[str]
    foreign_keys_rewritten: list[str]
    foreign_keys_dropped: list[str]
    triggers_dropped: list[str]

    def lines(self) -> list[str]:
        return [
            f"distributed by {DISTRIBUTION_COLUMN}: {', '.join(self.distributed) or '-'}",
            f"reference tables: {len(self.reference)}",
            f"keys widened with {DISTRIBUTION_COLUMN}: {', '.join(self.keys_widened) or '-'}",
            f"foreign keys rewritten with {DISTRIBUTION_COLUMN}: {', '.join(self.foreign_keys_rewritten) or '-'}",
            f"foreign keys dropped ({DROPPED_REASON}; {LOCAL_REASON}): {', '.join(self.foreign_keys_dropped) or '-'}",
            f"left on the coordinator: {', '.join(LOCAL_TABLES)}",
            f"triggers dropped ({TRIGGER_REASON}): {', '.join(self.triggers_dropped) or '-'}",
        ]


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _run(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def citus_tables() -> set[str]:
    return {name for (name,) in _rows("SELECT logicalrelid::regclass::text FROM pg_dist_partition")}


def _public_tables() -> list[str]:
    return [
        name
        for (name,) in _rows(
            """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
               ORDER BY c.relname"""
        )
        if name not in SKIPPED_TABLES
    ]


def _foreign_keys(tables: list[str]) -> list[ForeignKey]:
    rows = _rows(
        """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.confrelid::regclass::text,
                  array(SELECT a.attname FROM unnest(c.conkey) k JOIN pg_attribute a
                        ON a.attrelid = c.conrelid AND a.attnum = k)::text[]
           FROM pg_constraint c WHERE c.contype = 'f' AND c.conparentid = 0
             AND (c.conrelid::regclass::text = ANY(%s) OR c.confrelid::regclass::text = ANY(%s))
           ORDER BY 1, 2""",
        [tables, tables],
    )
    return [ForeignKey(t, n, d, r, tuple(cols)) for t, n, d, r, cols in rows]


def _widen_unique_keys(table: str) -> list[str]:
    """Primary key and unique constraints/indexes of `table` get the
    distribution column appended (Citus enforces uniqueness per shard)."""
    widened = []
    constraints = _rows(
        """SELECT c.conname, c.contype, i.indexrelid::regclass::text,
                  array(SELECT a.attname FROM unnest(c.conkey) k JOIN pg_attribute a
                        ON a.attrelid = c.conrelid AND a.attnum = k)::text[]
           FROM pg_constraint c JOIN pg_index i ON i.indexrelid = c.conindid
           WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u')""",
        [table],
    )
    constrained_indexes = set()
    for name, kind, index, columns in constraints:
        constrained_indexes.add(index)
        if DISTRIBUTION_COLUMN in columns:
            continue
        definition = _rows("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", [name])[0][0]
        keys = ", ".join(_q(c) for c in [*columns, DISTRIBUTION_COLUMN])
        include = re.search(r"INCLUDE \(.*?\)", definition)
        clause = "PRIMARY KEY" if kind == "p" else "UNIQUE"
        _run(f"ALTER TABLE {_q(table)} DROP CONSTRAINT {_q(name)}")
        included = include.group(0) if include else ""
        _run(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {clause} ({keys}) {included}")
        widened.append(f"{table}.{name}")
    for index, definition in _rows(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = %s::regclass AND i.indisunique""",
        [table],
    ):
        if index in constrained_indexes or DISTRIBUTION_COLUMN in definition:
            continue
        # "... USING btree (a, b) [INCLUDE (...)] [WHERE ...]": the key list is the first parenthesis.
        head, _, rest = definition.partition(" USING ")
        method, _, rest = rest.partition(" (")
        keys, _, tail = rest.partition(")")
        _run(f"DROP INDEX {index}")
        _run(f"{head} USING {method} ({keys}, {_q(DISTRIBUTION_COLUMN)}){tail}")
        widened.append(index)
    return widened


def _widen_small_identities(table: str) -> None:
    """Citus takes identity columns only as bigint (Django's contrib apps use int)."""
    for (column,) in _rows(
        """SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attidentity <> ''
           AND atttypid IN ('int2'::regtype, 'int4'::regtype)""",
        [table],
    ):
        _run(f"ALTER TABLE {_q(table)} ALTER COLUMN {_q(column)} TYPE bigint")


def _drop_triggers(table: str) -> list[str]:
    dropped = []
    for (name,) in _rows("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [table]):
        _run(f"DROP TRIGGER {_q(name)} ON {_q(table)}")
        dropped.append(f"{table}.{name}")
    return dropped


def _readd(key: ForeignKey, distributed: set[str]) -> str | None:
    """Puts a foreign key back in the form Citus keeps; the name of the
    rewritten one, or None when put back as it was."""
    if key.table in distributed and key.referenced in distributed:
        columns = ", ".join(_q(c) for c in [*key.columns, DISTRIBUTION_COLUMN])
        deferral = " DEFERRABLE INITIALLY DEFERRED" if "DEFERRABLE" in key.definition else ""
        _run(
            f"ALTER TABLE {_q(key.table)} ADD CONSTRAINT {_q(key.name)} FOREIGN KEY ({columns}) "
            f"REFERENCES {_q(key.referenced)} (id, {_q(DISTRIBUTION_COLUMN)}){deferral}"
        )
        return key.name
    _run(f"ALTER TABLE {_q(key.table)} ADD CONSTRAINT {_q(key.name)} {key.definition}")
    return None


def citus_distribute() -> Report:
    """See the module's docstring. Runs outside a transaction: Citus creates
    and fills the shards in separate steps."""
    report = Report([], [], [], [], [], [])
    done = citus_tables()
    pending = [t for t in _public_tables() if t not in done]
    if not pending:
        return report
    distributed = set(DISTRIBUTED_TABLES)
    keys = _foreign_keys(pending)
    for key in keys:
        _run(f"ALTER TABLE {_q(key.table)} DROP CONSTRAINT {_q(key.name)}")
    for table in pending:
        _widen_small_identities(table)
        report.triggers_dropped += _drop_triggers(table)
    for table in DISTRIBUTED_TABLES:
        if table in pending:
            report.keys_widened += _widen_unique_keys(table)
            colocate = "none" if table == DISTRIBUTED_TABLES[0] else DISTRIBUTED_TABLES[0]
            _rows(
                "SELECT create_distributed_table(%s, %s, colocate_with => %s)", [table, DISTRIBUTION_COLUMN, colocate]
            )
            report.distributed.append(table)
    for table in pending:
        if table not in distributed and table not in LOCAL_TABLES:
            _rows("SELECT create_reference_table(%s)", [table])
            report.reference.append(table)
    for key in keys:
        if (key.referenced in distributed and key.table not in distributed) or key.table in LOCAL_TABLES:
            report.foreign_keys_dropped.append(f"{key.table}.{key.name} -> {key.referenced}")
            continue
        rewritten = _readd(key, distributed)
        if rewritten:
            report.foreign_keys_rewritten.append(f"{key.table}.{rewritten}")
    return report
