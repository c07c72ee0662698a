"""Provisioning: what models exist (``catalog``), where they live (``models.ModelStore``), and how
they arrive (``pull`` from a hub or URL, ``packs`` to import and export, the embedded defaults),
and how well they translate here (``evaluations``, written by ``kiosk eval mt``).

``environment.from_environment`` is the only reader of ``KIOSK_DATA_DIR``, ``KIOSK_SYSTEM_STORES``
and ``KIOSK_CATALOG``; everything else here is given its paths.

Imports ``kiosk.errors`` and the engine libraries' constants (``mt``); nothing of the running
kiosk (turn, audio, ui) and no Qt.
"""
