"""What was opened and choosing from it: the study browser and series strip, opening and loading, inserted media, the remote (PACS) panel, key images, what the user chose."""
