"""Interaction tools that draw over the image: the measurements."""
