"""``python -m rlwatch`` runs the command line."""

import sys

from rlwatch.cli.main import main

sys.exit(main())
