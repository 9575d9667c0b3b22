"""One image view and the grid of them: the pyqtgraph pane, cine, layouts, linking, the layers over the image (overlays, presentation states, reference lines), MPR."""
