"""Documents held in DICOM objects: Structured Reports, key object selections, encapsulated documents (Qt-free)."""
