"""The measuring tools behind ``kiosk bench`` and ``kiosk soak``: speed against direct library
calls in the same run, memory over many turns.

Imports ``kiosk.turn``, ``kiosk.audio``, ``kiosk.store`` and the libraries; the running kiosk
never imports this folder.
"""
