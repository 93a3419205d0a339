"""Print the project's requirements from pyproject.toml, one per line (the single source for `make install`)."""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
extras = sys.argv[1:]
print("\n".join(project["dependencies"] + [dep for extra in extras for dep in project["optional-dependencies"][extra]]))
