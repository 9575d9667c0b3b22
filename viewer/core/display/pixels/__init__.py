"""Pixel data: decoding, the display pipeline (PS3.3 C.11) and presets."""
