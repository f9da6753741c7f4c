"""Service products, one module each; FLOWS maps a flow's name to its definition, OPERATIONS the calls
their Act states make to partners."""
from bot.engine.flow import Flow
from flows import account, doctor, fines, golf, offers, packages, points

PRODUCTS = (account, points, golf, packages, doctor, fines, offers)
FLOWS: dict[str, Flow] = {p.FLOW.name: p.FLOW for p in PRODUCTS}
OPERATIONS = {name: op for p in PRODUCTS for name, op in getattr(p, "OPERATIONS", {}).items()}
