"""Entry point of the frozen app (PyInstaller): the same as the ``pushdeck`` command."""

import sys

from pushdeck.cli import main

if __name__ == "__main__":
    sys.exit(main())
