"""The Gyeonggi offline speech-and-translation kiosk: the application above the engine libraries.

Folders, lowest layer first; each may import the libraries (``asr``, ``mt``, ``tts``,
``text``), ``kiosk.errors`` and the folders of lower layers, never a higher or sibling one
(``tests/test_layers.py`` checks it):

- ``errors``: machine-readable error codes and the one-line errors people see.
- ``store`` (catalogue, model store, pull, packs) and ``audio`` (capture, endpointing, playback).
- ``turn`` (pipeline, engines, session, run-time settings) and ``staff`` (staff config, PIN).
- ``ui`` (the PySide6 window) and ``measure`` (bench, soak).
- ``cli``: the ``kiosk`` command.
"""

__version__ = "0.1.0"
