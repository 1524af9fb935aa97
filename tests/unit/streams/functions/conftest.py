"""Helpers for the function catalogue's tests: call a function by its SQL name, as a rule would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import edgeplane.streams.functions as catalogue


def call_function(name: str, *args: Any) -> Any:
    fn = catalogue.lookup(name)
    assert fn is not None, f"{name} is not in the catalogue"
    n = len(args)
    assert n >= fn.min_args and (fn.max_args is None or n <= fn.max_args), (
        f"{name} does not take {n} arguments"
    )
    return fn.impl(*args)


@pytest.fixture
def call() -> Callable[..., Any]:
    return call_function
