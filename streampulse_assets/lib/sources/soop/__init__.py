"""The SOOP live source (package): `SoopSource` and `SoopConfig` in source.py, the payload
parsing in parse.py."""

from streampulse_assets.lib.sources.soop.source import SoopConfig, SoopSource

__all__ = ["SoopConfig", "SoopSource"]
