"""From stored values to screen values: decoders, the PS3.3 C.11 pipeline, frames, view state, cine."""
