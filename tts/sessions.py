"""The onnxruntime session of a neural voice (Piper, Kokoro), set up one way for all of them.

The kiosk owns the session so that it decides how many CPU threads speech may take while
recognition and translation share the machine.
"""

from __future__ import annotations

import logging
from collections.abc import Set as AbstractSet
from pathlib import Path

import onnxruntime

from . import VoiceLoadError

_LOGGER = logging.getLogger(__name__)


def onnx_session(
    model_path: Path, *, threads: int, required_inputs: AbstractSet[str], kind: str, use_cuda: bool = False
) -> onnxruntime.InferenceSession:
    """Load ``model_path`` with ``threads`` intra-op threads; ``VoiceLoadError`` when it is not
    a loadable ONNX model or lacks ``required_inputs`` (then it is not ``kind``, e.g. "a Piper voice")."""
    session_options = onnxruntime.SessionOptions()
    session_options.intra_op_num_threads = threads
    # The voice graphs run sequentially, so a second inter-op pool would only sit idle.
    session_options.inter_op_num_threads = 1
    # Idle pool threads would otherwise spin between sentences, taking CPU from recognition.
    session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")

    providers = ["CPUExecutionProvider"]
    if use_cuda:
        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        else:
            _LOGGER.warning("CUDA requested for %s but onnxruntime has no CUDA provider; using the CPU", model_path.name)

    try:
        session = onnxruntime.InferenceSession(str(model_path), sess_options=session_options, providers=providers)
    except Exception as error:  # onnxruntime raises a dozen unrelated exception types
        reason = str(error).split(" : ")[-1].strip()
        raise VoiceLoadError(str(model_path), f"not a loadable ONNX model ({reason})") from error

    input_names = {model_input.name for model_input in session.get_inputs()}
    if not required_inputs <= input_names:
        raise VoiceLoadError(
            str(model_path), f"not {kind} (inputs {sorted(input_names)}, expected {sorted(required_inputs)})"
        )
    return session
