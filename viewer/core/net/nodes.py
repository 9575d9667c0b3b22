"""Remote DICOM nodes and the local AE, as plain data.

A node is what a user types in the query panel (AE title, host, port,
optional TLS) plus how to talk to it (C-GET or C-MOVE, Study or Patient
Root, character sets, timeouts). Nodes persist in the app settings as dicts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from viewer.core.dicom.charset import normalise_charset, sendable_charset
from viewer.core.dicom.io import ViewerError

_AE_RECOMMENDED = re.compile(r"^[A-Z0-9_\-]+$")


def check_ae_title(title: str) -> tuple[str, str]:
    """(title, warning) for an AE title; raises ViewerError if it is not valid.

    PS3.5 6.2 (AE): 1 to 16 characters of the default repertoire, no
    backslash or control characters; leading and trailing spaces are not
    significant. Anything beyond upper-case letters, digits, '-' and '_' is
    legal but often refused by PACS, so it gets a warning.
    """
    stripped = str(title).strip()
    if not stripped:
        raise ViewerError("an AE title needs 1 to 16 characters")
    if len(stripped) > 16:
        raise ViewerError(f"AE title '{stripped}' is longer than 16 characters")
    if any(ord(ch) < 0x20 or ord(ch) > 0x7E or ch == "\\" for ch in stripped):
        raise ViewerError(f"AE title '{stripped}' has characters DICOM does not allow")
    warning = (
        ""
        if _AE_RECOMMENDED.match(stripped)
        else f"AE title '{stripped}' has characters other than A-Z, 0-9, '-' and '_': some PACS refuse them"
    )
    return stripped, warning


@dataclass
class Timeouts:
    """Seconds before giving up, the same for every service (None or 0: wait for ever).

    `connect`: for the TCP connection (and TLS handshake); `acse`: for the
    answer to our association request (or, as Storage SCP, for the peer's
    request); `dimse`: *inactivity*, nothing received or sent for that long
    during an operation, not a limit on a whole transfer.
    """

    connect: float | None = 10.0
    acse: float | None = 30.0
    dimse: float | None = 60.0


@dataclass
class Node:
    """A remote Application Entity."""

    name: str
    ae_title: str
    host: str
    port: int
    retrieve: str = "get"  # 'get' or 'move'
    query_model: str = "study"  # 'study' or 'patient'
    charset: str = "ISO_IR 192"  # sent in every C-FIND request (0008,0005)
    assume_charset: str = ""  # for answers that declare none
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    timeouts: Timeouts = field(default_factory=Timeouts)

    def __post_init__(self) -> None:
        self.ae_title, _ = check_ae_title(self.ae_title)
        try:
            self.port = int(self.port)
        except (TypeError, ValueError):
            raise ViewerError(f"port '{self.port}' is not a number") from None
        if not 1 <= self.port <= 65535:
            raise ViewerError(f"port {self.port} is outside 1-65535")
        if not str(self.host).strip():
            raise ViewerError("a node needs a host name or address")
        if self.retrieve not in ("get", "move"):
            raise ViewerError(f"retrieve must be 'get' or 'move', not '{self.retrieve}'")
        if self.query_model not in ("study", "patient"):
            raise ViewerError(f"query model must be 'study' or 'patient', not '{self.query_model}'")
        if isinstance(self.timeouts, dict):
            self.timeouts = Timeouts(**self.timeouts)
        # Spelt as the user likes ('utf8', 'Latin-1'): one canonical name (viewer.core.dicom.charset).
        self.charset = sendable_charset(self.charset)
        self.assume_charset = normalise_charset(self.assume_charset)

    @property
    def address(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Node:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class LocalAE:
    """This application's AE title and the port its Storage SCP listens on for C-MOVE."""

    ae_title: str = "DICOMVIEWER"
    move_port: int = 11113

    def __post_init__(self) -> None:
        self.ae_title, _ = check_ae_title(self.ae_title)


_ADDRESS = re.compile(r"^(?P<aet>[^@]{1,16})@(?P<host>\[[^\]]+\]|[^:@]+):(?P<port>\d{1,5})$")


def parse_node(text: str, saved: list[Node] | None = None) -> Node:
    """A node from 'AET@HOST:PORT' or the name of a saved node (raises ViewerError)."""
    for node in saved or []:
        if node.name == text:
            return node
    match = _ADDRESS.match(text.strip())
    if not match:
        names = ", ".join(n.name for n in saved or []) or "none saved"
        raise ViewerError(f"'{text}' is neither AET@HOST:PORT nor a saved node ({names})")
    host = match["host"].strip("[]")
    return Node(name=text, ae_title=match["aet"], host=host, port=int(match["port"]))


# ----------------------------------------------------------------------------- saved nodes


def config_dir() -> Path:
    """Where the app keeps its own files (nodes): per user, Qt-free so the CLI shares it.

    DICOM_VIEWER_CONFIG overrides it (tests, portable installs).
    """
    import os

    if os.environ.get("DICOM_VIEWER_CONFIG"):
        return Path(os.environ["DICOM_VIEWER_CONFIG"])
    if os.name == "nt":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "dicom-viewer"
    if os.uname().sysname == "Darwin":
        return Path.home() / "Library" / "Application Support" / "dicom-viewer"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "dicom-viewer"


def load_network_settings() -> tuple[list[Node], LocalAE]:
    """Saved nodes and the local AE (defaults when nothing is saved or the file is damaged)."""
    import json

    path = config_dir() / "network.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [], LocalAE()
    nodes = []
    for item in data.get("nodes", []):
        try:
            nodes.append(Node.from_dict(item))
        except (ViewerError, TypeError):
            continue  # one bad entry must not lose the others
    try:
        local = LocalAE(**data.get("local", {}))
    except (ViewerError, TypeError):
        local = LocalAE()
    return nodes, local


def save_network_settings(nodes: list[Node], local: LocalAE) -> None:
    """Write nodes and the local AE atomically (a crash never leaves half a file)."""
    import json
    import os
    import tempfile

    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    data = {"nodes": [n.to_dict() for n in nodes], "local": asdict(local)}
    fd, tmp = tempfile.mkstemp(prefix=".network.", suffix=".json", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
    os.replace(tmp, folder / "network.json")
