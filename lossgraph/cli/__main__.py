"""`python -m lossgraph.cli`."""
import sys

from lossgraph.cli import main

if __name__ == "__main__":      # importing this module (docs tools do) runs nothing
    sys.exit(main())
