import pytest

FOX = "The quick brown fox jumps over the lazy dog"

CASES = [
    ("md5", (FOX,), "9e107d9d372bb6826bd81d3542a419d6"),
    ("sha1", (FOX,), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
    ("sha256", (FOX,), "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
    (
        "sha384",
        ("",),
        "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
    ),
    (
        "sha512",
        ("abc",),
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
    ("md5", (1,), "c4ca4238a0b923820dcc509a6f75849b"),  # hashed as its text "1"
    ("md5", (None,), None),
    ("mh3", ("hello",), 0x248BFA47),
    ("mh3", (FOX,), 0x2E4FF723),
    ("mh3", ("",), 0),
    ("crc32", ("123456789",), "cbf43926"),
    ("crc32", (FOX,), "414fa339"),
    ("crc32", (None,), None),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_known_digests(call, name, args, expected):
    assert call(name, *args) == expected


def test_bytes_are_hashed_as_they_are(call):
    assert call("md5", b"1") == call("md5", "1")
