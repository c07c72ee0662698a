"""Live audio through PortAudio: ``devices`` (the device list, opening streams, the reasons
people see), ``listener`` (capture, Silero VAD endpointing, the level meter) and ``player``
(playback that starts on the first sentence).

Imports ``kiosk.errors``, ``asr`` (the sample rate) and ``tts`` (speech chunks); no Qt, and
nothing of the turn, the store or the UI.
"""
