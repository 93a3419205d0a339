"""python -m devtools.local_api: the local API on the command line (see devtools.local_api.cli)."""

import sys

from devtools.local_api.cli import main

if __name__ == "__main__":
    sys.exit(main())
