"""The admin API for care agents under /admin/: bearer tokens, a deny-by-default route table, Idempotency-Key,
and the audit log written with every change (`docs/agents.md`)."""
