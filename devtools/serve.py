"""The old name of the local API (now the package devtools.local_api), kept so that
`python -m devtools.serve` and `from devtools.serve import LocalApi` still work."""

import sys

from devtools.local_api import ConfigError, LocalApi, start_local_api
from devtools.local_api.cli import main

__all__ = ["ConfigError", "LocalApi", "main", "start_local_api"]

if __name__ == "__main__":
    sys.exit(main())
