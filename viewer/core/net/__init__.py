"""DICOM networking with pynetdicom: nodes, C-ECHO, C-FIND, C-GET, C-MOVE, a Storage SCP.

Qt-free: the query panel and the command line both drive these functions.
"""
