"""Errors the kiosk reports to people: each carries a one-line message and a CLI exit code."""

from __future__ import annotations


class KioskError(Exception):
    """A failure with a message fit for the screen; never a traceback."""

    exit_code = 1
    kind = "error"


class BadInput(KioskError):
    """The input cannot be used (unreadable or silent audio, unknown language, empty text)."""

    exit_code = 2
    kind = "bad-input"


class ModelMissing(KioskError):
    """A model needed for the request is not installed (or failed verification)."""

    exit_code = 3
    kind = "model-missing"

    def __init__(self, model_id: str, detail: str = "") -> None:
        self.model_id = model_id
        message = f"model {model_id} is not installed"
        super().__init__(f"{message}: {detail}" if detail else message)


class VerificationFailed(KioskError):
    """A model file does not match its recorded sha256 or size; nothing was installed or loaded."""

    exit_code = 1
    kind = "verification-failed"


class ProvisioningFailed(KioskError):
    """A model could not be fetched or installed: network, disk space or a missing converter."""

    exit_code = 1
    kind = "provisioning-failed"
