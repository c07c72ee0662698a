"""Print the accessibility tree of one running application as JSON lines (AT-SPI, through pyatspi).

Run by the real-window tests under Debian's own Python (``/usr/bin/python3``, which has
``python3-pyatspi``), not the project's venv: ``a11y_tree.py PID``. Each line is one node that is
showing on screen: its role, accessible name, text, extents in screen pixels and depth.
"""

import json
import sys

import pyatspi


def nodes(node, depth: int = 0):
    try:
        showing = node.getState().contains(pyatspi.STATE_SHOWING)
        role = node.getRoleName()
        name = node.name or ""
    except Exception:  # noqa: BLE001 - a node can vanish while the tree is read
        return
    if showing or depth == 0:
        try:
            box = node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
            extents = [box.x, box.y, box.width, box.height]
        except NotImplementedError:
            extents = None
        try:
            text = node.queryText().getText(0, -1)
        except NotImplementedError:
            text = ""
        yield {"role": role, "name": name, "text": text, "extents": extents, "depth": depth}
        for child in node:
            if child is not None:
                yield from nodes(child, depth + 1)


def _process_id(app) -> int | None:
    try:
        return app.get_process_id() if app is not None else None
    except Exception:  # noqa: BLE001 - another application on the bus may be going away
        return None


def main() -> int:
    pid = int(sys.argv[1])
    for app in pyatspi.Registry.getDesktop(0):
        if _process_id(app) == pid:
            for record in nodes(app):
                print(json.dumps(record, ensure_ascii=False))
            return 0
    print(f"no accessible application with pid {pid}", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
