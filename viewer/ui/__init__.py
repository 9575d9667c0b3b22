"""The Qt shell: widgets that adapt ``viewer.core`` to the screen."""
