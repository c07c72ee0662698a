"""The staff panel, behind the PIN: languages, audio devices, models, session rules and statistics.

The PIN is checked against its salted scrypt hash through ``PinGate`` (three tries, then a
lockout that doubles). A kiosk without a PIN shows no settings and no way to choose one: the
provisioning staff set it with ``kiosk staff set-pin`` (otherwise whoever touched the panel first
would choose it). Changing the PIN, after entering the current one, stays here. Settings are
saved to the config file only when staff press Save.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QStackedWidget, QVBoxLayout, QWidget

from kiosk.staff.config import KioskConfig, LoadedConfig, PinGate, hash_pin, save, valid_pin
from kiosk.store import catalog, evaluations
from kiosk.turn.session import Statistics
from kiosk.ui.i18n import tr
from kiosk.ui.messages import DevicesListed, ModelsChecked, ServersChecked
from kiosk.ui.screens import PageHeader, Screen, page_layout
from kiosk.ui.screens.accessibility import SPEECH_RATES, VOLUMES
from kiosk.ui.theme import refresh_fonts
from kiosk.ui.widgets import LEVEL_KEYS, Card, ChoiceGrid, Label, PinPad, TouchButton, discard, scroll_area

IDLE_TIMEOUTS_S = (60, 90, 120, 180, 300)


def _card(column: QVBoxLayout) -> tuple[Label, QVBoxLayout]:
    card = Card()
    column.addWidget(card)
    return card.title, card.column


class StaffScreen(Screen):
    config_saved = Signal(object)  # KioskConfig
    quit_requested = Signal()
    list_devices = Signal()
    check_models = Signal(bool)
    check_servers = Signal()

    def __init__(self, loaded: LoadedConfig, stats: Statistics, gate: PinGate | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loaded = loaded
        self.stats = stats
        self.gate = gate or PinGate()
        self.draft: KioskConfig = loaded.config
        self._lang = "ko"
        self._new_pin: str | None = None
        self._stage = "pin"
        layout = page_layout(self)
        self.header = PageHeader(self)
        layout.addWidget(self.header)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack, 1)
        self.stack.addWidget(self._build_pin_stage())
        self._settings_built = False  # built on first use: it is most of the widgets, rarely seen
        # The start-up model check usually answers before anyone opens the settings: keep its
        # answer and render it when they are built.
        self._models_checked: ModelsChecked | None = None
        self._model_rows: list[Label] = []
        self._servers_checked: ServersChecked | None = None
        self._server_rows: list[Label] = []

    # --- the PIN --------------------------------------------------------------------------

    def _build_pin_stage(self) -> QWidget:
        stage = QWidget()
        column = QVBoxLayout(stage)
        column.addStretch(1)
        self.pin_prompt = Label("", "title", bold=True)
        self.pin_prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pin_message = Label("", "body", "error")
        self.pin_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pin_pad = PinPad()
        self.pin_pad.setMaximumWidth(520)
        self.pin_pad.entered.connect(self._pin_entered)
        column.addWidget(self.pin_prompt)
        column.addWidget(self.pin_message)
        column.addWidget(self.pin_pad, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addStretch(1)
        return stage

    def open(self) -> None:
        """Show the PIN step; on a kiosk without a PIN, only how provisioning staff set one."""
        self.draft = self.loaded.config
        self._new_pin = None
        self._stage = "pin" if self.loaded.config.has_pin else "no_pin"
        self.pin_message.setText("")
        self.pin_pad.clear()
        self.stack.setCurrentIndex(0)
        self._render_pin_prompt()
        if self._stage == "pin":
            self.pin_pad.setFocus()

    def _render_pin_prompt(self) -> None:
        key = {"pin": "staff.pin_prompt", "no_pin": "staff.no_pin", "setup": "staff.pin_setup",
               "confirm": "staff.pin_confirm"}[self._stage]
        self.pin_prompt.setText(tr(self._lang, key))
        self.pin_pad.setVisible(self._stage != "no_pin")

    def _pin_entered(self, pin: str) -> None:
        lang = self._lang
        if self._stage == "no_pin":
            return  # nobody at the kiosk chooses the first PIN (the pad is hidden anyway)
        if self._stage == "pin":
            result = self.gate.check(pin, self.loaded.config.pin_hash)
            if result.accepted:
                self.open_settings()
                return
            if result.locked_for_s > 0:
                self.pin_message.setText(tr(lang, "staff.pin_locked", seconds=round(result.locked_for_s)))
            else:
                self.pin_message.setText(tr(lang, "staff.pin_wrong", tries=result.attempts_left))
        elif self._stage == "setup":
            if not valid_pin(pin):
                self.pin_message.setText(tr(lang, "staff.pin_rule"))
                return
            self._new_pin, self._stage = pin, "confirm"
            self.pin_message.setText("")
        elif self._stage == "confirm":
            if pin != self._new_pin:
                self._new_pin, self._stage = None, "setup"
                self.pin_message.setText(tr(lang, "staff.pin_mismatch"))
            else:
                self.draft = replace(self.draft, pin_hash=hash_pin(pin))
                self.open_settings()
                if self._store(replace(self.loaded.config, pin_hash=self.draft.pin_hash)):
                    self.saved_note.setText(tr(lang, "staff.pin_saved"))
                return
        self._render_pin_prompt()

    # --- the settings ---------------------------------------------------------------------

    def _build_settings_stage(self) -> QWidget:
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 12, 0)
        column.setSpacing(14)
        self.problems = Label("", "caption", "error")
        column.addWidget(self.problems)

        self.languages_title, languages = _card(column)
        self.pair_label = Label("", "body")
        self.resident_default = ChoiceGrid(columns=5)
        self.resident_default.chosen.connect(self._resident_default_changed)
        self.enabled_label = Label("", "body")
        codes = catalog.LANGUAGE_CODES
        self.enabled = ChoiceGrid(columns=5, exclusive=False)
        self.enabled.set_options(codes, [catalog.language(c).native for c in codes], list(codes))
        self.enabled.chosen.connect(self._enabled_changed)
        for widget in (self.pair_label, self.resident_default, self.enabled_label, self.enabled):
            languages.addWidget(widget)

        self.audio_title, audio = _card(column)
        self.microphone_label = Label("", "body")
        self.microphone = ChoiceGrid(columns=2)
        self.speaker_label = Label("", "body")
        self.speaker = ChoiceGrid(columns=2)
        self.audio_note = Label("", "caption", "muted")
        for widget in (self.microphone_label, self.microphone, self.speaker_label, self.speaker, self.audio_note):
            audio.addWidget(widget)

        self.session_title, session = _card(column)
        self.idle_label = Label("", "body")
        self.idle_timeout = ChoiceGrid(IDLE_TIMEOUTS_S)
        self.demo_label = Label("", "body")
        self.demo_mode = ChoiceGrid((False, True))
        self.lock_label = Label("", "body")
        self.kiosk_lock = ChoiceGrid((False, True))
        self.rate_label = Label("", "body")
        self.rate = ChoiceGrid(SPEECH_RATES)
        self.volume_label = Label("", "body")
        self.volume = ChoiceGrid(VOLUMES)
        for widget in (self.idle_label, self.idle_timeout, self.demo_label, self.demo_mode, self.lock_label,
                       self.kiosk_lock, self.rate_label, self.rate, self.volume_label, self.volume):
            session.addWidget(widget)

        self.models_title, models_layout = _card(column)
        self.models_list = QVBoxLayout()
        models_layout.addLayout(self.models_list)
        self.verify_button = TouchButton("", "shield", "link")
        self.verify_button.clicked.connect(lambda: self._request_models(full=True))
        models_layout.addWidget(self.verify_button)

        self.servers_title, servers_layout = _card(column)
        self.servers_list = QVBoxLayout()
        servers_layout.addLayout(self.servers_list)
        self.check_servers_button = TouchButton("", "shield", "link")
        self.check_servers_button.clicked.connect(self.check_servers)
        servers_layout.addWidget(self.check_servers_button)

        self.stats_title, stats_layout = _card(column)
        self.stats_text = Label("", "body")
        stats_layout.addWidget(self.stats_text)

        self.pin_title, pin_layout = _card(column)
        self.change_pin_button = TouchButton("", "lock", "link")
        self.change_pin_button.clicked.connect(self._change_pin)
        pin_layout.addWidget(self.change_pin_button)
        column.addStretch(1)

        stage = QWidget()
        stage_layout = QVBoxLayout(stage)
        stage_layout.setContentsMargins(0, 0, 0, 0)
        stage_layout.addWidget(scroll_area(content), 1)
        actions = QHBoxLayout()
        self.saved_note = Label("", "body", "muted")
        self.save_button = TouchButton("", "check", "resident")
        self.save_button.clicked.connect(self._save)
        self.quit_button = TouchButton("", "x", "danger")
        self.quit_button.clicked.connect(self.quit_requested)
        actions.addWidget(self.saved_note, 1)
        actions.addWidget(self.save_button)
        actions.addWidget(self.quit_button)
        stage_layout.addLayout(actions)
        return stage

    def open_settings(self) -> None:
        """The settings, once the PIN was accepted (``kiosk screenshot staff`` renders them directly)."""
        if not self._settings_built:
            self.stack.addWidget(self._build_settings_stage())
            self._settings_built = True
            self._retranslate_settings(self._lang)
            if self._models_checked is not None:
                self.show_models(self._models_checked)
            if self._servers_checked is not None:
                self.show_servers(self._servers_checked)
            refresh_fonts(self)
        self._stage = "settings"
        self.stack.setCurrentIndex(1)
        self.saved_note.setText("")
        self._fill_form()
        self.list_devices.emit()
        self._request_models(full=False)
        self.check_servers.emit()

    def _fill_form(self) -> None:
        config = self.draft
        self.problems.setText("\n".join(self.loaded.problems))
        self.problems.setVisible(bool(self.loaded.problems))
        self.enabled.set_selected(config.enabled_languages)
        self._fill_resident_default()
        self.idle_timeout.select(config.idle_timeout_s)
        self.demo_mode.select(config.demo_mode)
        self.kiosk_lock.select(config.kiosk_lock)
        self.rate.select(config.speech_rate)
        self.volume.select(config.volume)
        self._render_stats()

    def _fill_resident_default(self) -> None:
        codes = [code for code in self.draft.enabled_languages if code != self.draft.officer_language]
        self.resident_default.set_options(tuple(codes), [catalog.language(c).native for c in codes], codes)
        if codes:
            self.resident_default.select(self.draft.resident_language)

    def _resident_default_changed(self, code: str) -> None:
        self.draft = replace(self.draft, resident_language=code)

    def _enabled_changed(self) -> None:
        enabled = self.enabled.selected()
        if not enabled:  # at least one language stays on the start screen
            enabled = (self.draft.officer_language,)
            self.enabled.set_selected(enabled)
        self.draft = replace(self.draft, enabled_languages=enabled)
        if self.draft.resident_language not in enabled:
            others = [c for c in enabled if c != self.draft.officer_language] or list(enabled)
            self.draft = replace(self.draft, resident_language=others[0])
        self._fill_resident_default()

    def _save(self) -> None:
        def device(choice: ChoiceGrid, current: str | None) -> str | None:
            return (choice.value() or None) if choice.selected() else current

        self.draft = replace(
            self.draft,
            input_device=device(self.microphone, self.draft.input_device),
            output_device=device(self.speaker, self.draft.output_device),
            idle_timeout_s=self.idle_timeout.value(),
            demo_mode=self.demo_mode.value(),
            kiosk_lock=self.kiosk_lock.value(),
            speech_rate=self.rate.value(),
            volume=self.volume.value(),
        )
        if self._store(self.draft):
            self.saved_note.setText(tr(self._lang, "staff.saved"))

    def _store(self, config: KioskConfig) -> bool:
        try:
            save(config, self.loaded.path)
        except OSError as error:
            self.saved_note.setText(tr(self._lang, "staff.save_failed"))
            self.problems.setText(f"{self.loaded.path}: {error.strerror or type(error).__name__}")
            self.problems.setVisible(True)
            return False
        self.loaded = LoadedConfig(config, self.loaded.path)
        self.config_saved.emit(config)
        return True

    def _change_pin(self) -> None:
        self._stage = "setup"
        self._new_pin = None
        self.pin_message.setText("")
        self.stack.setCurrentIndex(0)
        self._render_pin_prompt()

    def _request_models(self, full: bool) -> None:
        if full:
            self.verify_button.set_text(tr(self._lang, "staff.verifying"))
            self.verify_button.setEnabled(False)
        self.check_models.emit(full)

    def show_devices(self, listed: DevicesListed) -> None:
        lang = self._lang
        for choice, names, current in ((self.microphone, listed.inputs, self.draft.input_device),
                                       (self.speaker, listed.outputs, self.draft.output_device)):
            choice.set_options(("", *names), [tr(lang, "staff.system_default"), *names])
            choice.select(current or "")
        self.audio_note.setText("" if listed.available and (listed.inputs or listed.outputs)
                                else tr(lang, "staff.no_devices"))

    def show_models(self, checked: ModelsChecked) -> None:
        self._models_checked = checked
        if not self._settings_built:
            return
        lang = self._lang
        for label in self._model_rows:
            discard(label)
        self._model_rows = []
        labels = []
        for row in checked.rows:
            state = tr(lang, f"staff.state_{row.state}")
            labels.append(Label(f"{row.name}  —  {state}", "body", "error" if row.state in ("corrupt", "missing") else None))
            labels.append(Label(tr(lang, "about.license_source", license=row.license, source=row.source), "caption", "muted"))
            measured = evaluations.summary(evaluations.read(row.path)) if row.kind.startswith("mt") else None
            if measured:
                labels.append(Label(tr(lang, "about.measured", date=measured.date, chrf=f"{measured.chrf:.1f}",
                                       pairs=measured.pairs), "caption", "muted"))
        if checked.loaded:
            labels.append(Label(tr(lang, "staff.loaded", engines=", ".join(checked.loaded)), "caption", "muted"))
        labels += self._coverage_labels(lang, checked.coverage)
        labels += capability_labels(lang, checked.capability)
        for label in labels:
            self.models_list.addWidget(label)
            self._model_rows.append(label)
        self.verify_button.set_text(tr(lang, "staff.verify"))
        self.verify_button.setEnabled(True)
        refresh_fonts(self)

    def show_servers(self, checked: ServersChecked) -> None:
        """Each shared server: what it does, its model, address and languages, and whether it answers."""
        self._servers_checked = checked
        if not self._settings_built:
            return
        lang = self._lang
        for label in self._server_rows:
            discard(label)
        self._server_rows = []
        labels = [] if checked.servers else [Label(tr(lang, "servers.none"), "body", "muted")]
        for server in checked.servers:
            labels.append(Label(f"{server_line(lang, server)} — {server['url']}: "
                                f"{tr(lang, 'servers.state_' + server['state'])}",
                                "body", "error" if server["state"] == "down" else None))
            if server["detail"]:
                labels.append(Label(server["detail"], "caption", "muted"))
        for label in labels:
            self.servers_list.addWidget(label)
            self._server_rows.append(label)
        self.check_servers_button.setVisible(bool(checked.servers))
        refresh_fonts(self)

    def _coverage_labels(self, lang: str, pairs) -> list[Label]:
        """Which model serves each resident language <-> Korean pair; a warning when none can."""
        if not pairs:
            return []
        labels = [Label(tr(lang, "staff.coverage"), "body", bold=True)]
        if all(pair.model_id is None for pair in pairs):
            labels.append(Label(tr(lang, "staff.no_mt_model", model=pairs[0].recommended), "body", "error"))
        by_resident: dict[str, list[str]] = {}
        for pair in pairs:
            resident = pair.target if pair.source == "ko" else pair.source
            served = pair.model_id or tr(lang, "staff.phrasebook_only")
            by_resident.setdefault(resident, []).append(f"{pair.source}→{pair.target} {served}")
        for resident, served in by_resident.items():
            # Named in the panel's own language: one label, one script (a native name would need its own font).
            spec = catalog.language(resident)
            name = spec.korean if lang == "ko" else spec.english
            labels.append(Label(f"{name}: " + " · ".join(served), "caption", "muted"))
        return labels

    def _render_stats(self) -> None:
        lang = self._lang
        snap = self.stats.snapshot()

        def seconds(value: float | None) -> str:
            return tr(lang, "staff.seconds", value=f"{value:.2f}") if value is not None else "—"

        lines = [
            tr(lang, "staff.stats_sessions", count=snap.sessions),
            tr(lang, "staff.stats_turns", count=snap.turns, speech=snap.by_origin.get("speech", 0),
               typed=snap.by_origin.get("typed", 0), phrases=snap.by_origin.get("phrase", 0)),
            tr(lang, "staff.stats_failed", failed=snap.failed, retracted=snap.retracted),
            tr(lang, "staff.stats_first_audio", value=seconds(snap.median_first_audio_s)),
            tr(lang, "staff.stats_total", value=seconds(snap.median_total_s)),
        ]
        self.stats_text.setText("\n".join(lines))

    def retranslate(self, lang: str) -> None:
        self._lang = lang
        self.header.title.setText(tr(lang, "staff.title"))
        self.header.back_button.set_text(tr(lang, "common.back"))
        if self._stage != "settings":
            self._render_pin_prompt()
        self.pin_pad.clear_key.setAccessibleName(tr(lang, "staff.pin_clear"))
        self.pin_pad.ok_key.setAccessibleName(tr(lang, "staff.pin_ok"))
        if self._settings_built:
            self._retranslate_settings(lang)

    def _retranslate_settings(self, lang: str) -> None:
        for label, key in ((self.languages_title, "languages"), (self.audio_title, "audio"),
                           (self.session_title, "session"), (self.models_title, "models"),
                           (self.stats_title, "stats"), (self.pin_title, "pin")):
            label.setText(tr(lang, f"staff.section_{key}"))
        self.servers_title.setText(tr(lang, "servers.title"))
        self.check_servers_button.set_text(tr(lang, "servers.check"))
        if self._servers_checked is not None:
            self.show_servers(self._servers_checked)
        for label, key in ((self.pair_label, "default_resident"), (self.enabled_label, "enabled"),
                           (self.microphone_label, "microphone"), (self.speaker_label, "speaker"),
                           (self.idle_label, "idle_timeout"), (self.demo_label, "demo_mode"),
                           (self.lock_label, "kiosk_lock"), (self.rate_label, "default_rate"),
                           (self.volume_label, "default_volume")):
            label.setText(tr(lang, f"staff.{key}"))
        self.idle_timeout.set_labels([tr(lang, "staff.seconds", value=s) for s in IDLE_TIMEOUTS_S])
        for choice in (self.demo_mode, self.kiosk_lock):
            choice.set_labels([tr(lang, "common.off"), tr(lang, "common.on")])
        self.rate.set_labels([tr(lang, f"accessibility.rate_{k}") for k in ("slow", "normal", "fast")])
        self.volume.set_labels([tr(lang, f"accessibility.volume_{k}") for k in ("quiet", "normal", "loud")])
        self.verify_button.set_text(tr(lang, "staff.verify"))
        self.change_pin_button.set_text(tr(lang, "staff.change_pin"))
        self.save_button.set_text(tr(lang, "staff.save"))
        self.quit_button.set_text(tr(lang, "staff.quit"))
        self._render_stats()


def server_line(lang: str, server: dict) -> str:
    """"Speech recognition: whisper-base, for vi th": one server's job, model and languages
    (the staff panel and the About card)."""
    model = server["model"] or tr(lang, "servers.model_unknown")
    return (f"{tr(lang, 'servers.role_' + server['role'])}: {model}, "
            f"{tr(lang, 'servers.for_languages', languages=' '.join(server['languages']))}")


def capability_figure(lang: str, row) -> str:
    """A language's error figure and where it comes from: "CER 0.073 (declared, ...)" or "... (measured on ...)"."""
    figure = f"{row.metric.upper()} {row.measured_error:.3f}" if row.measured_error is not None else (row.note or "—")
    where = tr(lang, "capability.measured", date=row.date or "?") if row.source == "measured" \
        else tr(lang, "capability.declared")
    return f"{figure} ({where})"


def capability_labels(lang: str, rows) -> list[Label]:
    """The staff's matrix: each language, what a resident can do there, the ASR model and its error figure."""
    if not rows:
        return []
    labels = [Label(tr(lang, "capability.title"), "body", bold=True)]
    for code, row in rows:
        # Named in the panel's own language: one label, one script (a native name would need its own font).
        spec = catalog.language(code)
        name = spec.korean if lang == "ko" else spec.english
        labels.append(Label(f"{name}: {tr(lang, LEVEL_KEYS[row.speech_level])} · {row.asr_model or '—'} · "
                            f"{capability_figure(lang, row)}", "caption", "muted"))
    return labels
