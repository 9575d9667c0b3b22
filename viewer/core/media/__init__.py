"""What a user opens: the study model, folder scans, DICOMDIR media, the retrieved-studies cache."""
