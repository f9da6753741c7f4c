"""The engine and the flows take data and return data: importing them loads no I/O library."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
IO = ("aiohttp", "redis", "rq", "sqlalchemy", "sqlmodel", "telegram", "httpx")

# A fresh interpreter: this one has loaded everything already. It prints the top-level names of every
# loaded module, after importing the engine package, each of its modules and each module of flows/.
PROBE = """
import importlib, pkgutil, sys
import bot.engine, flows
for package in (bot.engine, flows):
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _loaded_after(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_importing_the_engine_and_every_flow_loads_no_io_library():
    """A flow that imports a table module, or an engine module that imports Redis, fails here."""
    loaded = _loaded_after(PROBE)
    assert "flows" in loaded and "bot" in loaded  # the probe imported what it should
    assert not loaded & set(IO), f"the pure core loads {sorted(loaded & set(IO))}"


def test_the_probe_sees_an_io_library_when_one_is_imported():
    """The check can fail: the same probe after importing the dispatcher reports Redis."""
    loaded = _loaded_after("import bot.dispatcher\n" + PROBE)
    assert "redis" in loaded
