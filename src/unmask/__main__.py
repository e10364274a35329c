"""`python -m unmask`: the same command line as `unmask`."""

import sys

from .cli import main

sys.exit(main())
