"""Plain-text rules shared by every part of the kiosk: where sentences end (``text.sentences``)
and how text is normalised for matching and scoring (``text.normalise``). This is the bottom
of the library layer: it uses only the Python standard library and imports nothing from the
project, so ``asr``, ``mt``, ``tts``, ``kiosk`` and the tests can all depend on it.
"""
