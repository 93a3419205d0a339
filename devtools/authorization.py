"""Write docs/authorization.md (who may do what) from the authorization matrix the tests check
(tests/authorization_table.py).

    python -m devtools.authorization           # (re)write the page
    python -m devtools.authorization --check   # exit 1 when the committed page is stale"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "authorization.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the page is stale")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.authorization_table import render

    text = render()
    current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else None
    if args.check:
        if current != text:
            print(f"{PAGE.relative_to(ROOT)} is stale: run python -m devtools.authorization", file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
