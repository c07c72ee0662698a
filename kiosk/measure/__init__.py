"""The measuring tools behind ``kiosk bench``, ``kiosk soak``, ``kiosk eval mt`` and ``kiosk eval asr``: speed
against direct library calls in the same run, memory over many turns, translation quality per
pair, recognition accuracy per language.

Imports ``kiosk.turn``, ``kiosk.audio``, ``kiosk.store`` and the libraries; the running kiosk
never imports this folder.
"""
