"""The offline simulator source (package): `Simulator` in source.py, its model in the other
modules (catalog, names, season, sessions, events, plan_hard, effects, effects_hard, engine, hash)
and the scenarios in scenario.py."""

from streampulse_assets.lib.sources.simulator.source import Simulator

__all__ = ["Simulator"]
