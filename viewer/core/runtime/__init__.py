"""Below everything: cancellation and progress, worker processes, versions, wording. No DICOM here."""
