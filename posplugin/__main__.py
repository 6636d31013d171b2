"""``python -m posplugin`` is the ``posplugin`` command."""

import sys

from .cli import main

sys.exit(main())
