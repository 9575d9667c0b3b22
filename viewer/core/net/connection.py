"""PDUs over one socket (PS3.8 9.3), read and written from one thread: what an association runs on.

Each PDU is read into a reused buffer with one system call when its bytes
are there; P-DATA-TF fragments (PS3.8 E.2) become DIMSE messages whose
datasets are handed on in pieces, or to a sink as they arrive, never joined.
The socket is non-blocking: every wait polls it and, between polls, calls
:meth:`Connection.idle`, where the association applies its time limits and
its cancel (:class:`~viewer.core.net.association.Association`).
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable

from viewer.core.dicom.io import ViewerError
from viewer.core.net.dimse import Message, decode_command
from viewer.core.net.pdu import A_ABORT, A_RELEASE_RQ, ABORT, LARGEST_PDU, P_DATA_TF, PDU_HEADER, PDV_HEADER, RELEASE_RP


class PeerGone(ViewerError):
    """The association ended during an operation: the peer aborted, released or dropped the connection, or we gave up."""

    #: True when the peer released the association in order (A-RELEASE), which ends a Storage SCP's work.
    released = False


class ProtocolError(PeerGone):
    """The peer sent what the upper layer protocol does not allow; we aborted the association."""


class Connection:
    """One connection's PDUs: ``sock`` (non-blocking), ``log`` (one line per event), ``poll`` seconds between idle calls.

    ``on_idle`` is called whenever a poll goes by with nothing to read or
    write; it may raise to give up.
    """

    def __init__(self, address: str, log: Callable[[str], None] | None = None, poll: float = 0.1):
        self.address = address
        self.log = log or (lambda text: None)
        self.poll = poll
        self.on_idle: Callable[[], None] = lambda: None
        self.sock: socket.socket | None = None
        self.peer_max_pdu = 0  # 0: no limit (PS3.8 D.1)
        self.established = False
        self.last_error: OSError | None = None  # what ended the connection, when the system said
        self.last_activity = time.monotonic()  # the last PDU read or bytes sent
        self._header = bytearray(6)
        self._buffer_size = 256 * 1024
        self._free: list[bytearray] = []  # receive buffers to reuse (a fresh large one costs page faults)
        self._leftover: list | None = None  # [buffer, view, position, end, owned]: a PDU not fully parsed

    # -- P-DATA

    def send(self, context_id: int, command: bytes, dataset: bytes | None = None) -> None:
        """One encoded DIMSE message: the command set, then the dataset, each fragmented to the peer's maximum PDU."""
        pdus = []
        for data, control in ((command, 0x01), (dataset, 0x00)):
            if data is None:
                continue
            room = (self.peer_max_pdu - 6) if self.peer_max_pdu else len(data) or 1  # a PDV item's header is 6 bytes
            pieces = [data[i : i + room] for i in range(0, len(data), room)] or [b""]
            for index, piece in enumerate(pieces):
                last = 0x02 if index == len(pieces) - 1 else 0x00
                pdv = PDV_HEADER.pack(len(piece) + 2, context_id, control | last) + piece
                pdus.append(PDU_HEADER.pack(P_DATA_TF, len(pdv)) + pdv)
        self.send_raw(b"".join(pdus))

    def receive(self, sink_for: Callable[[Message], object] | None = None) -> Message:
        """The next DIMSE message from the peer; raises PeerGone when it releases, aborts or disconnects.

        ``sink_for(message)``, called once a command set that announces a
        dataset is complete, may return an object whose ``write(fragment)``
        takes each dataset fragment as it arrives (a view valid only during
        the call): a large dataset is then handled while the rest of it is
        still on its way. Without a sink the dataset's pieces are views into
        receive buffers, listed in the message's ``buffers``: pass them to
        :meth:`recycle` (from any thread) once used, and later messages
        reuse them.
        """
        command = bytearray()
        message: Message | None = None
        dataset: list = []
        buffers: list = []
        while True:
            if self._leftover is None:
                pdu_type, buffer, length = self.read_pdu()
                if pdu_type != P_DATA_TF:
                    self._not_data(pdu_type)
                self._leftover = [buffer, memoryview(buffer), 0, length, False]
            current = self._leftover
            buffer, view, pos, end, owned = current
            complete = False
            while pos < end and not complete:
                if pos + 6 > end:
                    raise self.protocol_error("a PDV item header runs past its PDU")
                length, context_id, control = PDV_HEADER.unpack_from(view, pos)
                if length < 2 or pos + 4 + length > end:
                    raise self.protocol_error("a PDV item's length runs past its PDU")
                fragment = view[pos + 6 : pos + 4 + length]
                pos += 4 + length
                if control & 0x01:  # a command fragment (PS3.8 E.2)
                    command += fragment
                    if control & 0x02:
                        try:
                            message = Message(context_id, decode_command(command), dataset, buffers)
                        except ValueError as exc:
                            raise self.protocol_error(str(exc)) from None
                        complete = not message.has_dataset
                        if not complete and sink_for is not None:
                            message.sink = sink_for(message)
                            if message.sink is not None and dataset:  # fragments that came before the command
                                for piece in dataset:
                                    message.sink.write(piece)
                                dataset.clear()
                else:
                    if message is not None and message.sink is not None:
                        message.sink.write(fragment)
                        complete = bool(control & 0x02)
                        continue
                    if not owned:  # this message owns the buffer now
                        owned = current[4] = True
                        buffers.append(buffer)
                    elif not any(b is buffer for b in buffers):
                        fragment = bytes(fragment)  # an earlier message owns this PDU's buffer (PDVs of two messages in one PDU)
                    dataset.append(fragment)
                    complete = bool(control & 0x02) and message is not None
            current[2] = pos
            if pos >= end:
                self._leftover = None
                if not owned:
                    self.recycle([buffer])
            if complete:
                return message

    def recycle(self, buffers: list) -> None:
        """Take receive buffers back for reuse (their views must no longer be used)."""
        for buffer in buffers:
            if len(buffer) == self._buffer_size and len(self._free) < 16:
                self._free.append(buffer)  # list.append is atomic: safe from a writer thread

    # -- ending

    def abort(self) -> None:
        """A-ABORT from the service user (PS3.8 9.3.8), then close."""
        if self.sock is not None and self.established:
            self.established = False
            try:
                self.log("-> A-ABORT")
                self.send_raw(ABORT)
            except (OSError, ViewerError):
                pass
        self.close()

    def close(self) -> None:
        self.established = False
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
                self.log("connection closed")

    def protocol_error(self, what: str) -> ProtocolError:
        """Abort for what the protocol does not allow (logged); returns the one-line error to raise."""
        self.log(f"protocol error: {what}")
        self.abort()
        return ProtocolError(f"{self.address} broke the DICOM protocol ({what}); association aborted")

    # -- PDUs and waiting

    def idle(self) -> None:
        """A poll went by with nothing to read or write."""
        self.on_idle()

    def send_raw(self, data: bytes) -> None:
        """Write whole PDUs (waiting, with :meth:`idle` between polls, while the peer does not read)."""
        view, sent = memoryview(data), 0
        while sent < len(view):
            if self.sock is None:
                raise PeerGone(f"{self.address}: the connection is closed")
            try:
                sent += self.sock.send(view[sent:])
            except ssl.SSLWantReadError:
                self._wait(read=True)
            except (BlockingIOError, ssl.SSLWantWriteError):
                self._wait(read=False)
            except OSError as exc:
                raise self._connection_lost(exc) from None
        self.last_activity = time.monotonic()

    def read_pdu(self) -> tuple[int, bytearray, int]:
        """(type, buffer, length): the next PDU, whose body is buffer[:length]."""
        self._read_into(memoryview(self._header))
        pdu_type, length = PDU_HEADER.unpack(self._header)
        if length > LARGEST_PDU or pdu_type not in range(1, 8):
            raise self.protocol_error(f"a PDU of type {pdu_type} and {length} bytes")
        if length <= self._buffer_size:
            buffer = self._free.pop() if self._free else bytearray(self._buffer_size)
        else:
            buffer = bytearray(length)  # beyond the maximum we announced: not kept for reuse
        self._read_into(memoryview(buffer)[:length])
        self.last_activity = time.monotonic()
        return pdu_type, buffer, length

    def _wait(self, read: bool) -> None:
        """Until the socket can be read (or written), or `poll` seconds pass (then :meth:`idle`).

        poll() where there is one: select() cannot watch a descriptor
        numbered 1024 or more, which a long-running app can reach.
        """
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(self.sock, select.POLLIN if read else select.POLLOUT)
            ready = poller.poll(self.poll * 1000)
        else:
            ready = any(select.select([self.sock] if read else [], [] if read else [self.sock], [], self.poll))
        if not ready:
            self.idle()

    def _read_into(self, view: memoryview) -> None:
        """Fill `view` from the socket (non-blocking: a read is one system call when data is there)."""
        got, count = 0, len(view)
        while got < count:
            if self.sock is None:
                raise PeerGone(f"{self.address}: the connection is closed")
            try:
                received = self.sock.recv_into(view[got:])
            except (BlockingIOError, ssl.SSLWantReadError):
                self._wait(read=True)
                continue
            except ssl.SSLWantWriteError:
                self._wait(read=False)
                continue
            except OSError as exc:
                raise self._connection_lost(exc) from None
            if not received:
                self.close()
                raise PeerGone(f"{self.address} broke off the transfer (connection closed)")
            got += received

    def _not_data(self, pdu_type: int):
        """A PDU other than P-DATA-TF during an operation: the peer releases or aborts, or breaks the protocol."""
        if pdu_type == A_RELEASE_RQ:
            self.log("<- A-RELEASE (requested by the peer)")
            try:
                self.send_raw(RELEASE_RP)
            finally:
                self.close()
            gone = PeerGone(f"{self.address} released the association before finishing")
            gone.released = True
            raise gone
        if pdu_type == A_ABORT:
            self.log("<- A-ABORT")
            self.close()
            raise PeerGone(f"{self.address} broke off the transfer (association aborted)")
        raise self.protocol_error(f"an unexpected PDU of type {pdu_type}")

    def _connection_lost(self, exc: OSError) -> PeerGone:
        self.last_error = exc
        self.close()
        return PeerGone(f"{self.address} broke off the transfer (connection lost: {exc.strerror or exc})")
