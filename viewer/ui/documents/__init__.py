"""The views of what is not an image, and of what an image holds: reports, PDF/CDA, waveforms, the tag inspector, the pipeline and problems docks."""
