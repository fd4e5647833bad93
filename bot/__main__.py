"""`python -m bot` is the same as the `cyclewatch` command."""

import sys

from bot.cli.main import main

sys.exit(main())
