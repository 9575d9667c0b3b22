"""Pictures and clips made from what the viewer shows: PNG or JPEG of an image, a series as PNGs, a cine as MP4.

The defaults live here, light to import: the command line shows them in its help without loading the pixel code.
"""

#: Pillow's scale, 1-95 (above 95 only grows the file); 90 keeps text and edges sharp.
DEFAULT_JPEG_QUALITY = 90
#: Frames per second for a series that records no timing (the user may choose another).
DEFAULT_SERIES_RATE = 10.0
