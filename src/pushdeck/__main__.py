"""``python -m pushdeck`` is the same as the ``pushdeck`` command."""

import sys

from pushdeck.cli import main

sys.exit(main())
