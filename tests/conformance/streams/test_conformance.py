"""eKuiper conformance: every case under ``cases/`` run through ``run_recorded``.

The expectations are eKuiper's documented results (its docs and its own rule tests); a failing
case is a gap in the engine, never a reason to edit the expectation.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.conformance.streams.streams_cases import Case, load_all
from tests.conformance.streams.streams_emissions import first_difference

CASES = load_all()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    from edgeplane.streams.sql.errors import SQLError
    from edgeplane.streams.testing import run_recorded

    def run() -> list[list[dict]]:
        # A fresh copy per run: YAML aliases share input lines between cases.
        return run_recorded(case.sql, case.streams, copy.deepcopy(case.input), tables=case.tables,
                            options=case.options, until=case.until)

    if case.expect_error:
        with pytest.raises(SQLError) as info:
            run()
        message = str(info.value).lower()
        for fragment in case.expect_error:
            assert fragment.lower() in message, f"error {str(info.value)!r} lacks {fragment!r}"
        return
    emissions = run()
    diff = first_difference(case.expect, emissions)
    assert diff is None, f"{diff}\nSQL: {case.sql}\ngot: {json.dumps(emissions, default=str)}"


def test_suite_is_large_enough() -> None:
    # The conformance bar agreed for the engine: at least 300 cases.
    assert len(CASES) >= 300, len(CASES)
