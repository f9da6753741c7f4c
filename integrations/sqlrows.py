"""A list of values as a table in one statement parameter: arrays and `unnest` on PostgreSQL, a JSON array and
`json_each` on SQLite. A statement over a batch of 100 or 1,000 rows then has a fixed handful of parameters,
so SQLAlchemy compiles it once and psycopg prepares it once (psycopg converts placeholders afresh for every
statement over 50 parameters, and an `IN (...)` list is re-rendered each time), and the database does the
batch in one set-based statement instead of one UPDATE per row. bench/reminder_run.py is where it counts."""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Sequence, TypeVar

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.engine import Connection

PG_TYPES = {"int": "bigint", "text": "text", "float": "double precision"}
S = TypeVar("S")
_BUILT: dict[tuple[Callable, str], Any] = {}


def is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def among(conn: Connection, column: str, name: str, kind: str = "int") -> TextClause:
    """`column` is one of the values bound later as `name` (see `values`): an array test on PostgreSQL, so the
    primary key or index is used with the array; a JSON list's members on SQLite."""
    if is_pg(conn):
        return text(f"{column} = ANY(CAST(:{name} AS {PG_TYPES[kind]}[]))").bindparams(bindparam(name))
    return text(f"{column} IN (SELECT value FROM json_each(:{name}))").bindparams(bindparam(name))


def built(conn: Connection, build: Callable[[Connection], S]) -> S:
    """`build(conn)`'s statement, made once per dialect: on a hot path, building a statement (and its cache
    key) costs more than running it from SQLAlchemy's compiled cache."""
    key = (build, conn.dialect.name)
    if key not in _BUILT:
        _BUILT[key] = build(conn)
    return _BUILT[key]


def table(conn: Connection, name: str, columns: dict[str, str]) -> str:
    """SQL for a derived table `name` with these columns (name -> "int" | "text" | "float"), bound as parameters named
    `name_column` (PostgreSQL: one array each) or `name` (SQLite: one JSON array of rows); see `table_params`."""
    if is_pg(conn):
        arrays = ", ".join(f"CAST(:{name}_{c} AS {PG_TYPES[t]}[])" for c, t in columns.items())
        return f"unnest({arrays}) AS {name}({', '.join(columns)})"
    picks = ", ".join(f"json_extract(value, '$[{i}]') AS {c}" for i, c in enumerate(columns))
    return f"(SELECT {picks} FROM json_each(:{name})) AS {name}"


def table_params(conn: Connection, name: str, columns: dict[str, str], rows: Sequence[Sequence[Any]]) -> dict:
    """The parameters of `table(conn, name, columns)` for these rows (tuples in the columns' order)."""
    if is_pg(conn):
        return {f"{name}_{c}": [row[i] for row in rows] for i, c in enumerate(columns)}
    return {name: json.dumps([list(row) for row in rows])}


def values(conn: Connection, items: Iterable[Any]) -> Any:
    """The value to bind for an `among` parameter."""
    items = list(items)
    return items if is_pg(conn) else json.dumps(items)
