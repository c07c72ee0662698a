"""The staff configuration: one TOML file, validated key by key, with safe defaults.

The file lives in platformdirs' user config dir (``KIOSK_CONFIG_DIR`` overrides it) as
``kiosk.toml``. A bad value never stops the kiosk: the loader names the key, says what it
expected, keeps the default and reports the problem to the staff panel and the log. The staff
PIN is stored only as a salted scrypt hash; ``PinGate`` rate-limits attempts in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

from kiosk.servers import ServerRoutes
from kiosk.staff import servers
from kiosk.store.catalog import LANGUAGE_CODES, Catalog
from kiosk.store.environment import catalog_files

log = logging.getLogger(__name__)

CONFIG_FILE = "kiosk.toml"
IDLE_TIMEOUT_RANGE_S = (30, 3600)
SPEECH_RATE_RANGE = (0.5, 1.5)
VOLUME_RANGE = (0.0, 2.0)
PIN_LENGTH = (4, 8)
# Pixel densities a kiosk screen can have (a 43" full-HD TV is 51 DPI, a 10" tablet panel 150-300);
# a monitor that reports something outside this is wrong about its size.
DISPLAY_DPI_RANGE = (40.0, 400.0)
DISPLAY_DIAGONAL_RANGE_IN = (5.0, 100.0)

# scrypt cost: about 50 ms and 16 MiB per check, cheap for staff and slow for guessing.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class KioskConfig:
    # The default pair: the officer's language and the resident language offered first.
    officer_language: str = "ko"
    resident_language: str = "en"
    enabled_languages: tuple[str, ...] = LANGUAGE_CODES
    input_device: str | None = None  # None: the system default
    output_device: str | None = None
    idle_timeout_s: int = 90
    demo_mode: bool = False
    kiosk_lock: bool = False
    speech_rate: float = 1.0
    volume: float = 1.0
    # A larger recognition model for a language ([speech] models = { uz = "whisper-small" }): a
    # catalogue ASR entry, loaded beside the default only when that language is chosen.
    asr_models: dict[str, str] = field(default_factory=dict)
    # Shared on-prem servers and the languages routed to them ([servers], kiosk.staff.servers).
    servers: ServerRoutes = field(default_factory=ServerRoutes)
    pin_hash: str | None = None
    # Writes each finished turn's text to <data dir>/transcripts/ (kiosk.turn.transcripts); off by default.
    keep_transcripts: bool = False
    # The screen's true size when its monitor reports nonsense (kiosk.ui.theme.physical_dpi): its
    # diagonal in inches, or its pixel density (which wins if both are set). None: what it reports.
    display_diagonal_in: float | None = None
    display_dpi: float | None = None

    @property
    def has_pin(self) -> bool:
        return self.pin_hash is not None


@dataclass(frozen=True)
class LoadedConfig:
    config: KioskConfig
    path: Path
    problems: tuple[str, ...] = ()


def config_dir() -> Path:
    override = os.environ.get("KIOSK_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("kiosk", appauthor=False))


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


class _Invalid(ValueError):
    """A value that breaks its key's rule; the message says what was expected."""


def _language(value: Any) -> str:
    if value not in LANGUAGE_CODES:
        raise _Invalid(f"one of {' '.join(LANGUAGE_CODES)}")
    return value


def _language_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(v not in LANGUAGE_CODES for v in value):
        raise _Invalid(f"a non-empty list of codes from {' '.join(LANGUAGE_CODES)}")
    return tuple(code for code in LANGUAGE_CODES if code in value)


def _device(value: Any) -> str | None:
    if not isinstance(value, str):
        raise _Invalid('a device name, or "" for the system default')
    return value.strip() or None


def _number_in(low: float, high: float, *, whole: bool) -> Callable[[Any], float]:
    kind = "a whole number" if whole else "a number"

    def parse(value: Any) -> float:
        ok_type = isinstance(value, int) if whole else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type or not math.isfinite(value) or not low <= value <= high:
            raise _Invalid(f"{kind} from {low} to {high}")
        return int(value) if whole else float(value)

    return parse


def _asr_models(value: Any) -> dict[str, str]:
    asr = sorted(entry.id for entry in Catalog(catalog_files()).models.values() if entry.kind == "asr")
    if not isinstance(value, dict) or any(code not in LANGUAGE_CODES or model not in asr
                                          for code, model in value.items()):
        raise _Invalid(f'a table of language code = recognition model, such as {{ uz = "whisper-small" }} '
                       f'(models: {" ".join(asr)})')
    return {code: value[code] for code in LANGUAGE_CODES if code in value}


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def _pin_hash(value: Any) -> str | None:
    if value == "":
        return None
    if not isinstance(value, str) or not _parse_pin_hash(value):
        raise _Invalid('a hash written by the staff panel ("scrypt$…"), or "" for none')
    return value


@dataclass(frozen=True)
class _Key:
    table: str
    name: str
    field: str
    parse: Callable[[Any], Any]
    write: Callable[[Any], Any] = lambda value: value


# The file's layout: [table] name -> KioskConfig field. The default pair is one key, split on load.
_KEYS = (
    _Key("languages", "enabled", "enabled_languages", _language_list, list),
    _Key("audio", "input_device", "input_device", _device, lambda v: v or ""),
    _Key("audio", "output_device", "output_device", _device, lambda v: v or ""),
    _Key("session", "idle_timeout_s", "idle_timeout_s", _number_in(*IDLE_TIMEOUT_RANGE_S, whole=True)),
    _Key("session", "demo_mode", "demo_mode", _flag),
    _Key("session", "kiosk_lock", "kiosk_lock", _flag),
    _Key("speech", "rate", "speech_rate", _number_in(*SPEECH_RATE_RANGE, whole=False)),
    _Key("speech", "volume", "volume", _number_in(*VOLUME_RANGE, whole=False)),
    _Key("speech", "models", "asr_models", _asr_models, dict),
    _Key("staff", "pin_hash", "pin_hash", _pin_hash, lambda v: v or ""),
    _Key("privacy", "keep_transcripts", "keep_transcripts", _flag),
    _Key("display", "diagonal_inches", "display_diagonal_in", _number_in(*DISPLAY_DIAGONAL_RANGE_IN, whole=False)),
    _Key("display", "dpi", "display_dpi", _number_in(*DISPLAY_DPI_RANGE, whole=False)),
)
_PAIR_TABLE, _PAIR_NAME = "languages", "default_pair"


def _default_pair(value: Any) -> tuple[str, str]:
    if not (isinstance(value, list) and len(value) == 2 and all(v in LANGUAGE_CODES for v in value)):
        raise _Invalid(f'two language codes, officer first, such as ["ko", "en"] (codes: {" ".join(LANGUAGE_CODES)})')
    return value[0], value[1]


def load(path: Path | None = None) -> LoadedConfig:
    """Read the config; every unusable key falls back to its default and is reported."""
    path = path or config_path()
    defaults = KioskConfig()
    if not path.is_file():
        return LoadedConfig(defaults, path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        problem = f"{path.name} cannot be read ({error}); every setting uses its default"
        log.warning("config: %s", problem)
        return LoadedConfig(defaults, path, (problem,))

    values: dict[str, Any] = {}
    problems: list[str] = []

    def reject(key: str, expected: str, got: Any, default: Any) -> None:
        problems.append(f"{key}: expected {expected}, got {got!r}; using {default!r}")

    known = {(k.table, k.name) for k in _KEYS} | {(_PAIR_TABLE, _PAIR_NAME)}
    for table_name, table in document.items():
        if table_name == servers.TABLE:  # its own parser, below
            continue
        if not isinstance(table, dict):
            problems.append(f"{table_name}: expected a [{table_name}] table; ignored")
            continue
        problems += [f"{table_name}.{name}: unknown key; ignored" for name in table if (table_name, name) not in known]

    for key in _KEYS:
        table = document.get(key.table)
        if isinstance(table, dict) and key.name in table:
            try:
                values[key.field] = key.parse(table[key.name])
            except _Invalid as error:
                reject(f"{key.table}.{key.name}", str(error), table[key.name], getattr(defaults, key.field))

    table = document.get(_PAIR_TABLE)
    if isinstance(table, dict) and _PAIR_NAME in table:
        try:
            values["officer_language"], values["resident_language"] = _default_pair(table[_PAIR_NAME])
        except _Invalid as error:
            pair = [defaults.officer_language, defaults.resident_language]
            reject(f"{_PAIR_TABLE}.{_PAIR_NAME}", str(error), table[_PAIR_NAME], pair)

    values["servers"], server_problems = servers.parse(document.get(servers.TABLE))
    problems += server_problems
    config = replace(defaults, **values)
    if config.resident_language not in config.enabled_languages:
        fallback = next(code for code in config.enabled_languages if code != config.officer_language) \
            if len(config.enabled_languages) > 1 else config.enabled_languages[0]
        problems.append(f"{_PAIR_TABLE}.{_PAIR_NAME}: the resident language {config.resident_language!r} is not "
                        f"in languages.enabled; using {fallback!r}")
        config = replace(config, resident_language=fallback)
    for problem in problems:
        log.warning("config: %s", problem)
    return LoadedConfig(config, path, tuple(problems))


def dumps(config: KioskConfig) -> str:
    """The config as TOML, in the layout ``load`` reads."""
    tables: dict[str, dict[str, Any]] = {_PAIR_TABLE: {_PAIR_NAME: [config.officer_language, config.resident_language]}}
    for key in _KEYS:
        value = key.write(getattr(config, key.field))
        if value is not None:  # an optional setting left unset is left out
            tables.setdefault(key.table, {})[key.name] = value
    tables |= servers.tables(config.servers)
    lines = ["# Kiosk settings, written by the staff panel. Nothing about residents is stored here."]
    for table_name, table in tables.items():
        lines += ["", f"[{table_name}]"]
        lines += [f"{name} = {_toml_value(value)}" for name, value in table.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def save(config: KioskConfig, path: Path | None = None) -> Path:
    """Write the config atomically, readable by its owner only (it holds the PIN hash)."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(dumps(config))
    os.replace(staging, path)
    return path


# --- the staff PIN -------------------------------------------------------------------------

def valid_pin(pin: str) -> bool:
    return pin.isascii() and pin.isdigit() and PIN_LENGTH[0] <= len(pin) <= PIN_LENGTH[1]


def hash_pin(pin: str) -> str:
    if not valid_pin(pin):
        raise ValueError(f"a PIN has {PIN_LENGTH[0]} to {PIN_LENGTH[1]} digits")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def _parse_pin_hash(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return None
    # Bounds keep a tampered file from asking scrypt for gigabytes.
    if not (2 <= n <= 2**17 and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4 and salt and len(digest) >= 16):
        return None
    return n, r, p, salt, digest


def verify_pin(pin: str, stored: str | None) -> bool:
    parsed = _parse_pin_hash(stored) if stored else None
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    candidate = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest))
    return hmac.compare_digest(candidate, digest)


@dataclass(frozen=True)
class PinResult:
    accepted: bool
    attempts_left: int
    locked_for_s: float = 0.0


class PinGate:
    """Checks PINs with a lockout: after ``max_attempts`` wrong tries, wait, doubling each time."""

    def __init__(self, max_attempts: int = 3, lockout_s: float = 30.0, max_lockout_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_attempts = max_attempts
        self.lockout_s = lockout_s
        self.max_lockout_s = max_lockout_s
        self._clock = clock
        self._failures = 0
        self._lockouts = 0
        self._locked_until = 0.0

    def locked_for(self) -> float:
        return max(0.0, self._locked_until - self._clock())

    def check(self, pin: str, stored: str | None) -> PinResult:
        wait = self.locked_for()
        if wait > 0:
            return PinResult(False, 0, wait)
        if verify_pin(pin, stored):
            self._failures = self._lockouts = 0
            return PinResult(True, self.max_attempts)
        self._failures += 1
        if self._failures < self.max_attempts:
            return PinResult(False, self.max_attempts - self._failures)
        self._failures = 0
        wait = min(self.lockout_s * 2**self._lockouts, self.max_lockout_s)
        self._lockouts += 1
        self._locked_until = self._clock() + wait
        log.warning("staff PIN: too many wrong attempts; locked for %.0f s", wait)
        return PinResult(False, 0, wait)
