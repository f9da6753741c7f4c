"""Service products, one module each; FLOWS maps a flow's name to its definition, OPERATIONS the calls
their Act states make to partners."""
from bot.flow import Flow
from flows import account, golf, packages, points

FLOWS: dict[str, Flow] = {f.name: f for f in (account.FLOW, points.FLOW, golf.FLOW, packages.FLOW)}
OPERATIONS = {**points.OPERATIONS, **golf.OPERATIONS, **packages.OPERATIONS}
