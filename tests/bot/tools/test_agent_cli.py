"""`shortcode agent add|list|revoke|token`, run as the operator runs it (a subprocess)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.admin import agents
from bot.db import make_engine
from jobs.audit import AuditLog
from tests.bot.tools.test_cli import shortcode


def token_of(out: str) -> str:
    return re.search(r"token \(shown once, keep it safe\): (sc_\S+)", out).group(1)


def database(tmp_path):
    return make_engine(f"sqlite:///{tmp_path}/cli.db")


def test_add_prints_a_token_once_that_opens_the_api_and_is_audited_as_the_operator(tmp_path):
    out = shortcode("agent", "add", "li.na", "--role", "agent", tmp_path=tmp_path).stdout
    token = token_of(out)
    assert "SHORTCODE_TOKEN=" in out and "Authorization: Bearer" in out
    db = database(tmp_path)
    agent, _ = agents.holder(db, token)
    assert (agent.name, agent.role) == ("li.na", "agent")
    with db.connect() as conn:
        [row] = conn.execute(select(AuditLog)).all()
    assert (row.action, row.target, row.role, row.source) == ("agent.add", "agent:li.na", "admin", "cli")
    assert token not in shortcode("agent", "list", tmp_path=tmp_path).stdout


def test_list_revoke_and_a_new_token(tmp_path):
    first = token_of(shortcode("agent", "add", "zhao", "--role", "viewer", tmp_path=tmp_path).stdout)
    second = token_of(shortcode("agent", "token", "zhao", tmp_path=tmp_path).stdout)
    assert first != second and agents.holder(database(tmp_path), second)[0].name == "zhao"
    out = shortcode("agent", "revoke", "zhao", tmp_path=tmp_path).stdout
    assert "agent zhao revoked (2 token(s) revoked)" in out
    assert agents.holder(database(tmp_path), first) == (None, "token revoked")
    assert re.search(r"zhao\s+viewer\s+revoked", shortcode("agent", "list", tmp_path=tmp_path).stdout)
    with database(tmp_path).connect() as conn:
        assert conn.execute(select(AuditLog.action)).scalars().all() == ["agent.add", "agent.token", "agent.revoke"]


@pytest.mark.parametrize("args, says", [
    (("agent", "add", "li.na", "--role", "root"), "shortcode agent add: role 'root': one of viewer, agent, "),
    (("agent", "add", "Li Na", "--role", "agent"), "shortcode agent add: name 'Li Na': 1-64 characters"),
    (("agent", "add", "x" * 65, "--role", "agent"), "1-64 characters"),
    (("agent", "revoke", "nobody"), "shortcode agent revoke: no active agent 'nobody'"),
    (("agent", "token", "nobody"), "shortcode agent token: no active agent 'nobody'"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(tmp_path, args, says):
    out = shortcode(*args, tmp_path=tmp_path, check=False)
    assert out.returncode == 2 and says in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    with database(tmp_path).connect() as conn:
        assert conn.execute(select(AuditLog)).all() == []


def test_a_duplicate_name_is_refused(tmp_path):
    shortcode("agent", "add", "li", "--role", "agent", tmp_path=tmp_path)
    out = shortcode("agent", "add", "li", "--role", "admin", tmp_path=tmp_path, check=False)
    assert out.returncode == 2 and "agent 'li' exists already" in out.stderr


def test_password_reads_one_line_from_a_pipe_sets_it_hashed_and_audits_it(tmp_path):
    """Not a terminal: one line from stdin; the password is never printed; too short is refused (exit 2)."""
    from bot.admin import passwords

    shortcode("agent", "add", "wang", "--role", "agent", tmp_path=tmp_path)
    short = shortcode("agent", "password", "wang", tmp_path=tmp_path, check=False, stdin="tooshort\n")
    assert short.returncode == 2 and "10 to 200 characters" in short.stderr and "tooshort" not in short.stderr
    out = shortcode("agent", "password", "wang", tmp_path=tmp_path, stdin="a long enough secret\n")
    assert out.stdout == "password set for wang\n"
    db = database(tmp_path)
    agent, kept = passwords.holder(db, "wang", "a long enough secret")
    assert agent.name == "wang" and kept.startswith("pw:")
    assert passwords.holder(db, "wang", "a long enough secret ")[0] is None
    with db.connect() as conn:
        rows = conn.execute(select(AuditLog.action, AuditLog.target)).all()
    assert ("agent.password", "agent:wang") in rows
    missing = shortcode("agent", "password", "nobody", tmp_path=tmp_path, check=False, stdin="a long enough secret\n")
    assert missing.returncode == 2 and "no active agent 'nobody'" in missing.stderr
