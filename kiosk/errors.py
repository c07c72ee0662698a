"""Errors the kiosk reports to people: each carries a machine-readable code and a one-line message.

The session, the CLI and the UI switch on ``ErrorCode``, never on the message (which is for
people, and may be translated or reworded). Each code has one CLI exit code and one broad
kind, the ``error_kind`` that the CLI's JSON has always carried.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    BAD_INPUT = "bad-input"  # unreadable or unusable input: audio, text, an unknown language
    NO_SPEECH = "no-speech"  # audio in which nothing was said
    RECOGNITION_TIMEOUT = "recognition-timeout"  # the speech could not be recognised within its budget
    MODEL_MISSING = "model-missing"  # no installed model serves the request
    VERIFICATION_FAILED = "verification-failed"  # a model file fails its sha256 or size
    PROVISIONING_FAILED = "provisioning-failed"  # a model could not be fetched or installed
    AUDIO_DEVICE = "audio-device"  # no usable microphone or speaker
    CANCELLED = "cancelled"  # the turn was abandoned (a new turn, Done, the idle timeout)
    SERVER_UNAVAILABLE = "server-unavailable"  # a shared server failed and no local engine covers the language
    INTERNAL = "internal"  # a bug: the details are in the log, by kind only

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES.get(self, 1)

    @property
    def kind(self) -> str:
        """The broad kind (the CLI's ``error_kind``): a finer code names the kind it refines."""
        return _KINDS.get(self, self.value)


_EXIT_CODES = {
    ErrorCode.BAD_INPUT: 2,
    ErrorCode.NO_SPEECH: 2,
    ErrorCode.RECOGNITION_TIMEOUT: 2,
    ErrorCode.MODEL_MISSING: 3,
    ErrorCode.AUDIO_DEVICE: 4,
    ErrorCode.CANCELLED: 130,  # as for Ctrl+C
}
_KINDS = {ErrorCode.NO_SPEECH: ErrorCode.BAD_INPUT.value, ErrorCode.RECOGNITION_TIMEOUT: ErrorCode.BAD_INPUT.value}


class KioskError(Exception):
    """A failure with a message fit for the screen; never a traceback."""

    code = ErrorCode.INTERNAL

    def __init__(self, message: str, *, code: ErrorCode | None = None, model_id: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.model_id = model_id

    @property
    def exit_code(self) -> int:
        return self.code.exit_code

    @property
    def kind(self) -> str:
        return self.code.kind


class BadInput(KioskError):
    """The input cannot be used (unreadable or silent audio, unknown language, empty text)."""

    code = ErrorCode.BAD_INPUT


class ModelMissing(KioskError):
    """A model needed for the request is not installed (or failed verification)."""

    code = ErrorCode.MODEL_MISSING

    def __init__(self, model_id: str, detail: str = "") -> None:
        message = f"model {model_id} is not installed"
        super().__init__(f"{message}: {detail}" if detail else message, model_id=model_id)


class VerificationFailed(KioskError):
    """A model file does not match its recorded sha256 or size; nothing was installed or loaded."""

    code = ErrorCode.VERIFICATION_FAILED


class ProvisioningFailed(KioskError):
    """A model could not be fetched or installed: network, disk space or a missing converter."""

    code = ErrorCode.PROVISIONING_FAILED


class ServerUnavailable(KioskError):
    """A configured on-prem server is unreachable, too slow or failing, and no local engine covers the request."""

    code = ErrorCode.SERVER_UNAVAILABLE
