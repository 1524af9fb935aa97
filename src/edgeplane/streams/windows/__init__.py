"""Window operators. Each one is told rows arrived at a time (``insert``) and that time moved on
(``advance``: the clock in processing time, the watermark in event time) and hands finished windows
to its ``PaneSink``."""

from edgeplane.streams.windows.base import PaneSink, unit_ms
from edgeplane.streams.windows.factory import make_window

__all__ = ["PaneSink", "make_window", "unit_ms"]
