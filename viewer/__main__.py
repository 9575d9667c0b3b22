"""``python -m viewer`` is the same as the ``dicom-viewer`` command."""

import sys

from viewer.app import main

# Guarded: worker processes (folder scans) import the main module again.
if __name__ == "__main__":
    sys.exit(main())
