"""From stored values to screen values: decoders, the PS3.3 C.11 pipeline, the frame source and
its prefetcher, view state, annotations, cine."""
