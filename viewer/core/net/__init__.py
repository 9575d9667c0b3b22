"""DICOM networking: every DIMSE service on one association of our own, nodes, storage of what arrives.

Services, one module each, all on :class:`~viewer.core.net.association.Association`:
``echo`` (C-ECHO, and its answer as SCP), ``find`` (C-FIND; its identifier
from ``query``), ``retrieve`` (C-GET and C-MOVE into the cache),
``storage_scp`` (the Storage SCP a C-MOVE sends to) and ``send`` (C-STORE
SCU: files as stored, or transcoded without loss, by ``outgoing``; each
instance's fate in ``fates``; patient reconciliation in ``reconcile``).

The association, as requestor and acceptor, with one TLS path (``tls``), one
timeout and cancel model and one log format for every service, is
``association``; beneath it ``connection`` (PDUs over a socket), ``pdu``
(association negotiation, with pynetdicom's PDU classes) and ``dimse``
(command sets, statuses). ``nodes`` holds remote nodes and the local AE as
plain data, ``storage`` writes received instances into the cache as they
arrive. pynetdicom serves for PDU, dataset and SOP class definitions only.

Qt-free: the query panel and the command line both drive these functions.
"""
