"""Measurements and annotations in real units (issue #15), without Qt.

- :mod:`.geometry`: the shapes (line, polyline, angle, Cobb angle, point,
  ellipse, rectangle, polygon, freehand, arrow) in image coordinates, and
  their lengths, angles and areas under a calibration.
- :mod:`.roi`: which pixels a shape holds (a pixel counts when its centre is
  inside) and their statistics in modality units.
- :mod:`.measure`: one entry point, :func:`~.measure.measure`, used by the
  ``measure`` command and the viewport's tools alike.
- :mod:`.store`: measurements kept per image in the app's data folder; CSV.
- :mod:`.presentation_state`: a Grayscale Softcopy Presentation State of them.
- :mod:`.burn`: measurements drawn into exported pixels.
- :mod:`.editing`: handles, moving, picking, undo and redo, for the
  viewport's tools.

Image coordinates are (column, row) floats with pixel centres at whole
numbers: (0, 0) is the centre of the top left pixel. The spacing and its
basis label come from :mod:`viewer.core.display.calibration`.
"""
