"""A list of values bound as one parameter, on both databases: the same rows as an IN list would find."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from integrations import sqlrows


@pytest.fixture
def conn(sql_url):
    engine = create_engine(sql_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id integer primary key, name varchar(32), n integer)"))
        conn.execute(text("INSERT INTO t (id, name, n) VALUES (1, '+8613800000001', 0), (2, '张三', 0), (3, 'o''brien', 0)"))
        yield conn
    engine.dispose()


@pytest.mark.parametrize("ids, found", [([1, 3], [1, 3]), ([], []), ([2, 2, 9], [2])])
def test_among_finds_the_listed_ids(conn, ids, found):
    rows = conn.execute(text(f"SELECT id FROM t WHERE {sqlrows.among(conn, 'id', 'ids').text} ORDER BY id"),
                        {"ids": sqlrows.values(conn, ids)}).scalars().all()
    assert rows == found


def test_among_takes_any_text(conn):
    names = ["张三", "o'brien", "nobody"]
    rows = conn.execute(text(f"SELECT id FROM t WHERE {sqlrows.among(conn, 'name', 'names', 'text').text} ORDER BY id"),
                        {"names": sqlrows.values(conn, names)}).scalars().all()
    assert rows == [2, 3]


def test_an_update_from_a_table_of_values_sets_each_row_its_own(conn):
    cols = {"id": "int", "name": "text"}
    conn.execute(text(f"UPDATE t SET name = v.name, n = t.n + 1 FROM {sqlrows.table(conn, 'v', cols)} WHERE t.id = v.id"),
                 sqlrows.table_params(conn, "v", cols, [(1, "一"), (3, None)]))
    assert conn.execute(text("SELECT id, name, n FROM t ORDER BY id")).all() == [(1, "一", 1), (2, "张三", 0), (3, None, 1)]
