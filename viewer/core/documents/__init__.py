"""Documents a DICOM object carries rather than shows as an image: encapsulated PDF and CDA, reports."""
