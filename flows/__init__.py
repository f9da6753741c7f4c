"""Service products, one module each; FLOWS maps a flow's name to its definition."""
from bot.flow import Flow
from flows import account, points

FLOWS: dict[str, Flow] = {f.name: f for f in (account.FLOW, points.FLOW)}
