"""Fixtures of the network tests only; the servers themselves are in server_fixtures.py (shared with tests/ui)."""

from __future__ import annotations

import pytest
from dicom_servers import Server


@pytest.fixture(params=["orthanc", "dcmqrscp"])
def server(request) -> Server:
    """Each session server in turn."""
    return request.getfixturevalue(request.param)
