"""Joins of streams inside a window, and of a stream with a table."""

from edgeplane.streams.joins.plan import JoinPlan, JoinStep

__all__ = ["JoinPlan", "JoinStep"]
