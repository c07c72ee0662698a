"""One conversation turn and what it needs: ``pipeline`` (stages that emit typed events),
``engines`` (which library class serves which installed model), ``coverage`` (which model
serves each language pair), ``capability`` (what a resident can do in each language: speech,
less reliable speech, or typing and phrases), ``session`` (sides, turns,
idle, statistics), ``settings`` (run-time thread split and decoding), ``transcripts`` (the
staff-enabled record) and ``heap`` (returning freed memory to the system).

Imports the engine libraries, ``kiosk.store`` and ``kiosk.errors``; never Qt, the UI or audio
devices (the UI and the CLI bring the audio).
"""
