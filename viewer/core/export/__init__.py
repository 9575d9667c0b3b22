"""Pictures and clips made from what the viewer shows: PNG or JPEG of an image, a series as PNGs, a cine as MP4."""
