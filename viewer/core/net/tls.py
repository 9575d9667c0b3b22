"""DICOM over TLS (PS3.15 B.1): the client's SSL context from a node's files, and failures in words.

One path for every service: :func:`client_context` gives what
:meth:`~viewer.core.net.association.Association.request` wraps its socket
with, and :func:`tls_error_text` says which side's certificate a failed
handshake was about.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from viewer.core.dicom.io import ViewerError
from viewer.core.net.nodes import Node


def client_context(node: Node) -> tuple[ssl.SSLContext, str] | None:
    """(SSL context, server host name) for a TLS node, None for plain DICOM.

    The node's CA file authenticates the server (its certificate must name
    the host); a client certificate and key are presented when given.
    Raises ViewerError naming a file that does not exist or cannot be used.
    """
    if not node.tls_ca_file:
        return None
    files = [("CA", node.tls_ca_file), ("client certificate", node.tls_cert_file), ("client key", node.tls_key_file)]
    for what, path in files:
        if path and not Path(path).is_file():
            raise ViewerError(f"{node.address}: the TLS {what} file {path} does not exist")
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=node.tls_ca_file)
        if node.tls_cert_file:
            context.load_cert_chain(node.tls_cert_file, node.tls_key_file or None)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise ViewerError(f"{node.address}: cannot use the TLS files ({getattr(exc, 'reason', None) or exc})") from None
    return context, node.host


#: OpenSSL's reasons for a failed TLS connection, in words (the alerts a server sends, PS3.15 B.1 uses TLS).
_TLS_REASONS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a TLS client certificate (set one in the node's settings)",
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not trust our TLS client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server refused our TLS client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the server says our TLS client certificate has expired",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "TLS handshake failed (no protocol version or cipher in common)",
    "UNEXPECTED_EOF_WHILE_READING": "the server closed the TLS connection (it may require a client certificate)",
    "WRONG_VERSION_NUMBER": "the server does not speak TLS on this port",
}


def tls_error_text(exc: OSError) -> str:
    """A failed TLS connection in words, saying whose certificate was the problem."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate is not trusted ({exc.verify_message})"
    reason = getattr(exc, "reason", None) or str(exc)
    if isinstance(exc, ssl.SSLEOFError):
        reason = "UNEXPECTED_EOF_WHILE_READING"
    return _TLS_REASONS.get(reason, f"TLS connection failed ({reason})")
