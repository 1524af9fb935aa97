from __future__ import annotations

import pytest

from edgeplane.store.keys import key_bounds, prefix_end


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        ("", None),
        ("/a/", "/a0"),
        ("a", "b"),
        ("/\U0010ffff", "0"),
        ("\U0010ffff\U0010ffff", None),
        ("x\ud7ff", "x\ue000"),  # skips the surrogate range, which keys cannot contain
    ],
)
def test_prefix_end(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end


def test_prefix_end_bounds_every_extension() -> None:
    for prefix in ["/a", "é", "/\U0010ffff", "\ud7ff"]:
        end = prefix_end(prefix)
        for tail in ["", "\x01", "z", "\U0010ffff" * 3]:
            assert prefix <= prefix + tail < end
            assert (prefix + tail).encode() < end.encode("utf-8", "surrogatepass")


def test_key_bounds_choose_the_tighter_lower_bound() -> None:
    assert key_bounds("") == ("1", [])
    assert key_bounds("/a/") == ("key >= ? AND key < ?", ["/a/", "/a0"])
    assert key_bounds("/a/", "/a/x") == ("key > ? AND key < ?", ["/a/x", "/a0"])
    assert key_bounds("/a/", "/0") == ("key >= ? AND key < ?", ["/a/", "/a0"])
    assert key_bounds("", "/q", column="h.key") == ("h.key > ?", ["/q"])
