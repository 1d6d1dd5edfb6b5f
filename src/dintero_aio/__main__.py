"""`python -m dintero_aio`: the command-line interface."""

import sys

from ._cli import main

sys.exit(main())
