"""What every CLI command shares: JSON on stdout, and language codes checked against the catalogue."""

from __future__ import annotations

import json

from kiosk.errors import BadInput
from kiosk.store import catalog


def print_json(obj) -> None:
    # Flushed: `kiosk listen --json` is read line by line while it runs.
    print(json.dumps(obj, ensure_ascii=False, indent=None, default=str), flush=True)

def language_code(code: str) -> str:
    try:
        return catalog.language(code).code
    except KeyError as error:
        raise BadInput(error.args[0]) from None
