"""`python -m lossgraph.cli`."""
import sys

from lossgraph.cli import main

sys.exit(main())
