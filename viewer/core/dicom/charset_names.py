"""The character-set spellings a user is shown as examples (PS3.3 C.12.1.1.2 defined terms, Python codecs).

Apart from :mod:`viewer.core.dicom.charset` so that the command line's help names them without importing
pydicom and numpy (most of a headless command's start).
"""

EXAMPLE_SPELLINGS = "ISO_IR 192 (UTF-8), ISO_IR 100 (latin1), GB18030, Shift_JIS, EUC-KR, ISO 2022 IR 87, or a Python codec name"
