"""The PySide6 kiosk: it renders pipeline events and sends commands; it never calls an engine."""
