"""`python -m unmask.cli`: the same command line as `unmask`."""

import sys

from . import main

sys.exit(main())
