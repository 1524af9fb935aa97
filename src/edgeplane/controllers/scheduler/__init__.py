"""The default scheduler (see controller.py), with its cache, constraints, resources and taint helpers."""

from edgeplane.controllers.scheduler.controller import Scheduler

__all__ = ["Scheduler"]
