"""A Storage SCP that misbehaves on purpose, for the send tests: it drops the connection mid-C-STORE.

Built on the viewer's own upper layer as acceptor (``Association.answer``)
and the Storage SCP's writer, so what it did receive is written to a folder
and can be compared with what was sent.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from viewer.core.net.association import Association
from viewer.core.net.connection import PeerGone
from viewer.core.net.dimse import C_STORE_RQ, C_STORE_RSP, NO_DATASET
from viewer.core.net.nodes import Node, Timeouts
from viewer.core.net.storage import TRANSFER_SYNTAXES, InstanceWriter
from viewer.core.net.storage_scp import answer_store, store_sink


class DroppingSCP:
    """A Storage SCP on our own upper layer that, on its n-th connection, drops the TCP connection
    when the k-th C-STORE request has arrived (``drops[n] = k``; None: behaves), without answering it."""

    def __init__(
        self, folder: Path, drops: list[int | None], accept_after: int | None = None, port: int = 0, answers: dict[int, int] | None = None
    ):
        self.writer = InstanceWriter(folder)
        self.answers = answers or {}  # the n-th C-STORE of the whole run (from 1) answered with this status, not stored
        self.stores = 0
        self.drops = drops
        self.accept_after = accept_after  # stop listening after this many connections
        self.listener = socket.create_server(("127.0.0.1", port))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def node(self) -> Node:
        return Node("fake", "FAKE", "127.0.0.1", self.port, timeouts=Timeouts(connect=2, acse=5, dimse=5))

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, address = self.listener.accept()
            except TimeoutError:
                continue
            drop_at = self.drops[self.connections] if self.connections < len(self.drops) else None
            self.connections += 1
            self._associate(sock, address, drop_at)
            if self.accept_after is not None and self.connections >= self.accept_after:
                self.listener.close()
                return

    def _associate(self, sock, address, drop_at) -> None:
        assoc = Association(f"{address[0]}:{address[1]}", "FAKE", "")
        if not assoc.answer(sock, lambda abstract, offered: next((s for s in offered if s in TRANSFER_SYNTAXES), None), 16384, 5):
            return
        stores = 0
        try:
            while True:
                message = assoc.receive(lambda m: store_sink(assoc, m, self.writer))
                if message.command.get("CommandField") != C_STORE_RQ:
                    continue
                stores += 1
                self.stores += 1
                if self.stores in self.answers:
                    self._answer(assoc, message, self.answers[self.stores])
                    continue
                if stores == drop_at:
                    assoc.sock.close()  # the cable pulled: no A-ABORT, no response
                    assoc.sock = None
                    return
                answer_store(assoc, message, self.writer)
        except PeerGone:
            pass
        finally:
            assoc.close()

    @staticmethod
    def _answer(assoc: Association, message, status: int) -> None:
        """A C-STORE response with `status` (PS3.4 B.2.3) and an error comment; the dataset is dropped."""
        if message.sink is not None:
            message.sink.discard()
        assoc.recycle(message.buffers)
        request = message.command
        response = {
            "AffectedSOPClassUID": request.get("AffectedSOPClassUID", ""),
            "CommandField": C_STORE_RSP,
            "MessageIDBeingRespondedTo": request.get("MessageID", 0),
            "CommandDataSetType": NO_DATASET,
            "Status": status,
            "AffectedSOPInstanceUID": request.get("AffectedSOPInstanceUID", ""),
        }
        if status & 0xF000 != 0xB000:
            response["ErrorComment"] = "test refusal"
        assoc.send_message(message.context_id, response)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.writer.remove_partials()
        try:
            self.listener.close()
        except OSError:
            pass
