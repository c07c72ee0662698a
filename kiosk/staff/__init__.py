"""What staff set: the kiosk's TOML config, validated key by key, and the PIN behind the staff
panel (a salted scrypt hash, attempts rate-limited).

Imports ``kiosk.store`` (the language table) and ``kiosk.errors``; no Qt.
"""
