"""The measuring tools behind ``kiosk bench``, ``kiosk soak`` and ``kiosk eval mt``: speed against
direct library calls in the same run, memory over many turns, translation quality per pair.

Imports ``kiosk.turn``, ``kiosk.audio``, ``kiosk.store`` and the libraries; the running kiosk
never imports this folder.
"""
