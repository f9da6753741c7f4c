"""The partners a flow may query and call, handed to the engine in every `View`: the set of them, and
all of them simulated on our own database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy.engine import Engine

from integrations.boss import Boss
from integrations.boss.simulated import SimulatedBoss
from integrations.golf import TeeSheets
from integrations.golf.cached import CachedTeeSheets
from integrations.golf.simulated import SimulatedTeeSheets
from integrations.hospital import Registration
from integrations.hospital.simulated import SimulatedRegistration
from integrations.police import TrafficPolice
from integrations.police.simulated import SimulatedTrafficPolice
from integrations.sqltx import utcnow


@dataclass
class Services:
    boss: Boss
    golf: TeeSheets
    hospital: Registration
    police: TrafficPolice


def simulated(engine: Engine, clock: Callable[[], datetime] = utcnow, read_cache_s: float = 0) -> Services:
    """Every partner simulated on our own database (embedded mode, tests, the simulator);
    `read_cache_s` keeps tee-sheet availability that long (see `integrations.golf.cached`)."""
    golf: TeeSheets = SimulatedTeeSheets(engine, clock=clock)
    if read_cache_s > 0:
        golf = CachedTeeSheets(golf, read_cache_s)
    return Services(boss=SimulatedBoss(engine, clock=clock), golf=golf,
                    hospital=SimulatedRegistration(engine, clock=clock),
                    police=SimulatedTrafficPolice(engine, clock=clock))
