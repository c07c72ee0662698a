"""The PySide6 kiosk: ``app`` (start-up), ``worker`` (the one inference thread), ``messages`` (the
GUI <-> worker protocol), ``controller`` (session state for the screens), ``main_window``,
``screens/`` and ``widgets``. It renders events and sends commands; it never calls an engine.

The only folder that imports Qt. It imports ``kiosk.turn``, ``kiosk.staff``, ``kiosk.store``,
``kiosk.audio`` and the libraries; nothing imports it but the CLI.
"""
