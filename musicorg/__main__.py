"""``python -m musicorg``: the ``musicorg`` command."""

import sys

from musicorg.cli import main

sys.exit(main())
