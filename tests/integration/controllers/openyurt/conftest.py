from __future__ import annotations

from tests.integration.apiserver.conftest import cloud, kubectl  # noqa: F401 - fixtures reused here
