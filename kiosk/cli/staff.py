"""``kiosk staff set-pin``: the provisioning staff set the staff PIN, never the kiosk's first visitor.

The PIN is read from the terminal without echo (asked twice), or with ``--stdin`` as one line of
standard input for scripted provisioning. It is never taken from the command line, where the
shell history and ``ps`` would show it. Only its salted scrypt hash is written to the staff config.
"""

from __future__ import annotations

import getpass
import sys
import tomllib
from dataclasses import replace

from kiosk.errors import BadInput
from kiosk.staff.config import PIN_LENGTH, hash_pin, load, save, valid_pin

RULE = f"a staff PIN has {PIN_LENGTH[0]} to {PIN_LENGTH[1]} digits (0-9)"


def _read_pin(args) -> str:
    if args.stdin:
        line = sys.stdin.readline()
        if not line:
            raise BadInput("--stdin: standard input is empty; give the PIN as one line")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise BadInput("standard input is not a terminal: run `kiosk staff set-pin` in a terminal, "
                       "or pass --stdin to read the PIN as one line from standard input")
    first = getpass.getpass(f"New staff PIN ({PIN_LENGTH[0]} to {PIN_LENGTH[1]} digits): ")
    if not valid_pin(first):
        raise BadInput(RULE)
    second = getpass.getpass("The same PIN again: ")
    if second != first:
        raise BadInput("the two PINs were different; nothing was saved")
    return first


def set_pin(args) -> int:
    pin = _read_pin(args)
    if not valid_pin(pin):
        raise BadInput(RULE)
    loaded = load()
    if loaded.path.is_file():
        try:
            tomllib.loads(loaded.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            # Writing would replace every setting with its default: staff fix the file first.
            raise BadInput(f"{loaded.path} cannot be read ({error}); fix it first, nothing was saved") from None
    had_pin = loaded.config.has_pin
    # The other settings are written back as they were loaded (a bad key keeps its default, as in
    # the staff panel); the problems are named so staff can fix them.
    for problem in loaded.problems:
        print(f"kiosk: note: {problem}", file=sys.stderr)
    path = save(replace(loaded.config, pin_hash=hash_pin(pin)), loaded.path)
    print(f"staff PIN {'replaced' if had_pin else 'saved'} in {path} (as a salted hash)")
    return 0
