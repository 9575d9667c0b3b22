"""One window per user: a second launch hands its paths to the running viewer.

The running viewer listens on a local socket named per user
(QLocalServer: a named pipe on Windows, a Unix socket elsewhere). A new
launch first tries to connect: if someone answers, it sends its paths and
exits; if not, it becomes the listener, removing a stale socket that a
crashed viewer may have left behind.
"""

from __future__ import annotations

import getpass
import hashlib
import json

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket


def server_name() -> str:
    """Per user; DICOM_VIEWER_INSTANCE overrides it (tests, separate profiles)."""
    import os

    if os.environ.get("DICOM_VIEWER_INSTANCE"):
        return os.environ["DICOM_VIEWER_INSTANCE"]
    user = getpass.getuser() or "user"
    return "dicom-viewer-" + hashlib.sha1(user.encode("utf-8")).hexdigest()[:12]


def hand_over(paths: list[str], name: str | None = None, timeout_ms: int = 1000) -> bool:
    """Send `paths` to a running viewer; True if one took them."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(timeout_ms):
        return False
    message = json.dumps({"open": paths}).encode("utf-8") + b"\n"
    written = socket.write(message) == len(message)
    socket.waitForBytesWritten(timeout_ms)  # False if flushed already: not an error
    socket.waitForReadyRead(timeout_ms)  # the listener answers 'ok' once it has the paths
    socket.disconnectFromServer()
    return written


class InstanceServer(QObject):
    """Listens for later launches; emits ``paths_received(list[str])``."""

    paths_received = Signal(object)

    def __init__(self, name: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name or server_name()
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self.server.listen(self.name):
            # A socket file left by a crashed viewer: nobody answered on it.
            QLocalServer.removeServer(self.name)
            self.server.listen(self.name)
        self.server.newConnection.connect(self._connection)

    @property
    def listening(self) -> bool:
        return self.server.isListening()

    def _connection(self) -> None:
        socket = self.server.nextPendingConnection()
        if socket is None:
            return
        buffer = bytearray()

        def read() -> None:
            buffer.extend(bytes(socket.readAll()))
            if b"\n" not in buffer:
                return
            try:
                message = json.loads(bytes(buffer).split(b"\n", 1)[0].decode("utf-8"))
                paths = [str(p) for p in message.get("open", [])]
            except (ValueError, AttributeError):
                paths = None
            socket.write(b"ok\n")
            socket.flush()
            socket.disconnectFromServer()
            if paths is not None:
                self.paths_received.emit(paths)

        socket.readyRead.connect(read)
        socket.disconnected.connect(socket.deleteLater)
        if socket.bytesAvailable():
            read()

    def close(self) -> None:
        self.server.close()
