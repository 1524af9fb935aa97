"""Reconnect backoff: exponential from 0.5 s to 30 s with equal jitter."""

from __future__ import annotations

import pytest

from edgeplane.edge.hubclient import Backoff, hub_url


def test_delays_double_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    low, high = Backoff(rng=lambda: 0.0), Backoff(rng=lambda: 0.999999)
    lows = [low.next() for _ in range(9)]
    highs = [high.next() for _ in range(9)]
    assert lows == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert highs == pytest.approx([0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0], rel=1e-5)


def test_reset_starts_over() -> None:
    b = Backoff(rng=lambda: 1.0)
    for _ in range(5):
        b.next()
    b.reset()
    assert b.next() == 0.5


def test_many_nodes_spread_out() -> None:
    import random

    rng = random.Random(7)
    delays = {round(Backoff(rng=rng.random).next(), 3) for _ in range(100)}
    assert len(delays) > 50  # not one wave


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="0 < base <= cap"):
        Backoff(base=0)
    with pytest.raises(ValueError, match="must start with https://"):
        hub_url("http://cloud:6443")
    assert hub_url("https://cloud:6443/") == "wss://cloud:6443/edgeplane/v1/hub"
