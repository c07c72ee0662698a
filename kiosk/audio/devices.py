"""PortAudio (through sounddevice): the device list, finding a device by name, opening and closing
streams, and the one-line reasons people see when a device is missing or lost.

PortAudio is imported on first use, so the rest of the kiosk runs where it is not installed.
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from typing import Literal

from kiosk.errors import ErrorCode, KioskError

log = logging.getLogger(__name__)

# Small capture blocks keep the capture path short (PortAudio buffers about two of them).
BLOCK_S = 0.02
# How often waits on a stream (a release, the end of playback) look again.
POLL_S = 0.05
_PA_INVALID_CHANNEL_COUNT = -9998


class AudioDeviceError(KioskError, RuntimeError):
    """No usable audio device (PortAudio missing, no device, device lost); one line for people."""

    code = ErrorCode.AUDIO_DEVICE

def portaudio():
    try:
        import sounddevice
    except OSError as error:  # libportaudio2 missing
        raise AudioDeviceError(f"PortAudio is not available (apt-get install libportaudio2): {error}") from None
    return sounddevice

# Re-initialising PortAudio closes every stream, so it is done only while none of ours is open.
_portaudio_lock = threading.RLock()

_open_streams = 0

def _refresh_portaudio(sd) -> bool:
    """Re-list devices: PortAudio enumerates them once, so a device plugged in later is unknown."""
    with _portaudio_lock:
        if _open_streams:
            return False
        sd._terminate()
        sd._initialize()
        return True

def devices(rescan: bool = False) -> list[dict]:
    """Every PortAudio device: name, index, channel counts, default rate, and whether it is a default.

    ``rescan`` also finds devices plugged in (or a sound server started) since PortAudio started;
    it is skipped while a stream is open.
    """
    sd = portaudio()
    if rescan:
        _refresh_portaudio(sd)
    with _portaudio_lock:
        try:
            found = sd.query_devices()
            default_in, default_out = sd.default.device
        except sd.PortAudioError as error:
            raise AudioDeviceError(str(error)) from None
    return [
        {
            "name": d["name"],
            "index": d["index"],
            "max_input_channels": d["max_input_channels"],
            "max_output_channels": d["max_output_channels"],
            "default_samplerate": d["default_samplerate"],
            "default_input": d["index"] == default_in,
            "default_output": d["index"] == default_out,
        }
        for d in found
    ]

def _device_noun(kind: str) -> str:
    return "microphone" if kind == "input" else "speaker"

def find_device(sd, name: str | None, kind: Literal["input", "output"]) -> dict:
    """The device to open: by name (exact, else a unique part of it), else the system default."""

    def lookup() -> dict | None:
        with _portaudio_lock:
            try:
                return dict(sd.query_devices(name, kind))
            except (sd.PortAudioError, ValueError):
                return None

    info = lookup()
    if info is None and _refresh_portaudio(sd):
        info = lookup()
    if info is None:
        noun = _device_noun(kind)
        raise AudioDeviceError(f"no {noun} named '{name}' is connected" if name else f"no {noun} is connected")
    return info

def open_stream(sd, kind: Literal["input", "output"], device_name: str | None, callback,
                 finished_callback=None):
    """Open and start a float32 stream at the device's native rate, mono where the device allows."""
    global _open_streams
    info = find_device(sd, device_name, kind)
    stream_class = sd.InputStream if kind == "input" else sd.OutputStream
    rate = int(info["default_samplerate"])
    channels = 1
    while True:
        try:
            with _portaudio_lock:
                stream = stream_class(device=info["index"], samplerate=rate, channels=channels, dtype="float32",
                                      blocksize=round(rate * BLOCK_S), callback=callback,
                                      finished_callback=finished_callback)
                _open_streams += 1
        except sd.PortAudioError as error:
            # A few hardware devices refuse mono; the callbacks mix down or fan out.
            if error.args[1:2] == (_PA_INVALID_CHANNEL_COUNT,) and channels == 1 and info[f"max_{kind}_channels"] > 1:
                channels = 2
                continue
            raise AudioDeviceError(f"the {_device_noun(kind)} '{info['name']}' cannot be opened ({device_error_reason(error)})") from None
        break
    try:
        stream.start()
    except sd.PortAudioError as error:
        close_stream(stream, abort=True)
        raise AudioDeviceError(f"the {_device_noun(kind)} '{info['name']}' cannot be started ({device_error_reason(error)})") from None
    log.info("%s open: %s, %d Hz, %d channel(s)", _device_noun(kind), info["name"], rate, channels)
    return stream

def device_error_reason(error: Exception) -> str:
    """PortAudio's words without its call name ("Error opening InputStream: ..."), plus the host's."""
    text = str(error.args[0]).split(": ", 1)[-1] if error.args else type(error).__name__
    host = error.args[2] if len(error.args) > 2 else None
    return f"{text}: {host[2]}" if host and host[2] else text

def close_stream(stream, abort: bool = False) -> None:
    global _open_streams
    sd = portaudio()
    with suppress(sd.PortAudioError):  # a lost device may refuse to stop; the stream is gone anyway
        if abort:
            stream.abort()
        else:
            stream.stop()
    with suppress(sd.PortAudioError):
        stream.close()
    with _portaudio_lock:
        _open_streams -= 1
