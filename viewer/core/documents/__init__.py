"""Qt-free readers and renderers of the non-image objects on a disc (#16): reports, documents, waveforms."""
