"""Session fixtures: the test studies, one Orthanc and two dcmqrscp loaded with them.

Shared by the network tests (tests/net) and the query panel's UI tests
(tests/ui): tests/conftest.py registers this module as a plugin, so one run
starts each server once whichever tests ask for it. The servers are started
and stopped here (see dicom_servers.py); each fixture stops its server, and
anything the server forked, at the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dicom_servers import (
    VIEWER_AET,
    Study,
    free_port,
    make_study,
    orthanc_instance_count,
    start_dcmqrscp,
    start_orthanc,
    store_folder,
)

from viewer.core.net.nodes import LocalAE


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory) -> tuple[Path, list[Study]]:
    """The files every session server holds, and what they are."""
    root = tmp_path_factory.mktemp("net-data")
    studies = [
        # 10 CT slices in one series plus a second series of 3: retrieve, cancel, cache.
        make_study(
            root / "ct",
            "Doe^John",
            "PID001",
            "ACC001",
            "20240105",
            "CT CHEST",
            "House^Gregory",
            [("CT_small.dcm", "CT", 10), ("CT_small.dcm", "CT", 3)],
        ),
        make_study(
            root / "mr", "Doe^Jane", "PID002", "ACC002", "20240220", "MR HEAD", "Wilson^James", [("MR_small.dcm", "MR", 1)], charset=""
        ),
        make_study(
            root / "utf8-latin",
            "Müller^Jürgen",
            "PID003",
            "ACC003",
            "20230611",
            "CT ABDOMEN",
            "Cuddy^Lisa",
            [("CT_small.dcm", "CT", 1)],
            charset="ISO_IR 192",
        ),
        make_study(
            root / "utf8-han",
            "王^小明",
            "PID004",
            "ACC004",
            "20230612",
            "CT HEAD",
            "Chase^Robert",
            [("CT_small.dcm", "CT", 1)],
            charset="ISO_IR 192",
        ),
        make_study(
            root / "cyrillic",
            "Иванов^Иван",
            "PID005",
            "ACC005",
            "20221231",
            "CT NECK",
            "Foreman^Eric",
            [("CT_small.dcm", "CT", 1)],
            charset="ISO_IR 144",
        ),
    ]
    return root, studies


@pytest.fixture(scope="session")
def studies(dataset_dir) -> list[Study]:
    return dataset_dir[1]


@pytest.fixture(scope="session")
def ct_study(studies) -> Study:
    return studies[0]


@pytest.fixture(scope="session")
def local_ae() -> LocalAE:
    """This app as the servers know it: C-MOVE sends to this AE title and port."""
    return LocalAE(VIEWER_AET, free_port())


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory, local_ae, dataset_dir):
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"), local_ae)
    try:
        store_folder(server.ae_title, server.port, dataset_dir[0])
        expected = sum(s.instance_count for s in dataset_dir[1])
        assert orthanc_instance_count(server) == expected, server.log()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dcmqrscp(tmp_path_factory, local_ae, dataset_dir):
    server = start_dcmqrscp(tmp_path_factory.mktemp("dcmqrscp"), local_ae)
    try:
        store_folder(server.ae_title, server.port, dataset_dir[0])
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dcmqrscp_without_get(tmp_path_factory, local_ae, dcmqrscp):
    """A second dcmqrscp over the same storage that refuses C-GET (--disable-get)."""
    server = start_dcmqrscp(
        tmp_path_factory.mktemp("dcmqrscp-noget"),
        local_ae,
        dcmqrscp.ae_title,
        storage=dcmqrscp.workdir / "storage",
        extra=("--disable-get",),
    )
    try:
        yield server
    finally:
        server.stop()
