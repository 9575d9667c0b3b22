"""Reading DICOM: the one element walker, safe file access, headers, character sets, the tag tree."""
