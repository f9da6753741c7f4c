"""The dialogue engine, pure by design: flows, sessions, screens, text and the renderer that fits a screen to
a channel. It takes data and returns data; channels, the dispatcher and storage live outside this package
(`tests/bot/engine/test_purity.py` holds it to that)."""
from bot.engine.catalogs import Catalogs
from bot.engine.engine import Context, Engine, Policy, Turn
from bot.engine.flow import Flow, Profile, Screen
from bot.engine.render import Budget, Renderer
from bot.engine.session import Session
from bot.engine.text import T

__all__ = ["Budget", "Catalogs", "Context", "Engine", "Flow", "Policy", "Profile", "Renderer", "Screen",
           "Session", "T", "Turn"]
