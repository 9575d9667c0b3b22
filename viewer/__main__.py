"""``python -m viewer`` is the same as the ``dicom-viewer`` command."""

import sys

from viewer.app import main

sys.exit(main())
