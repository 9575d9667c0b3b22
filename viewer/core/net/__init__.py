"""DICOM networking: nodes, C-ECHO, C-FIND, C-GET, C-MOVE, a Storage SCP.

``nodes`` (remote nodes, settings), ``scu`` (the operations; C-ECHO, C-FIND
and C-MOVE through pynetdicom), ``upper_layer`` (the association C-GET runs
on: one socket, one thread, see its docstring for why), ``storage`` (writing
received instances into the cache as they arrive).

Qt-free: the query panel and the command line both drive these functions.
"""
