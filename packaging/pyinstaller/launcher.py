"""Entry script of the PyInstaller bundle: the same as ``dicom-viewer``.

freeze_support() comes first: the folder scan's worker processes
(viewer/core/runtime/processes.py, 'forkserver' or 'spawn') start this executable
again, and in a frozen app that call is what turns them into workers.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from viewer.app import main

    sys.exit(main())
