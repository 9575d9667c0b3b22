"""Documents on the disc besides images: presentation states, reports, key objects, PDFs, waveforms (issue #16)."""
