"""The Gyeonggi offline speech-and-translation kiosk (application layer)."""

__version__ = "0.1.0"
