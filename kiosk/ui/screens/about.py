"""The "About this AI" card: who runs the kiosk, what it does and how, the models with their
licences and sources (and the models of the province's shared servers, where some languages
use them), the data, measured performance, limits and how personal data is handled."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from kiosk.store import catalog, evaluations
from kiosk.store.models import ModelStore
from kiosk.ui.i18n import tr
from kiosk.ui.messages import ServersChecked
from kiosk.ui.screens import PageHeader, Screen, page_layout
from kiosk.ui.screens.staff import capability_figure, server_line
from kiosk.ui.theme import refresh_fonts
from kiosk.ui.widgets import LEVEL_KEYS, Card, Label, ReflowGrid, discard, scroll_area

BENCHMARK_FILE = catalog.ASSETS_DIR.parent / "BENCHMARKS.md"
ESPEAK = ("espeak-ng", "GPL-3.0-or-later", "https://github.com/espeak-ng/espeak-ng (Debian package espeak-ng)")
# Sections whose body is one i18n text, in reading order; models and performance are built from files.
TEXT_SECTIONS = ("operator", "purpose", "functions", "models", "data", "algorithm", "performance", "limits", "privacy")
# Texts that say where models run and where voice and text go: each has a ``_servers`` variant
# for a kiosk that sends some languages to the province's shared servers.
WHERE_IT_RUNS = {"about.intro", "about.functions_body", "about.privacy_body"}


def benchmark_lines(path: Path = BENCHMARK_FILE) -> list[str]:
    """The figures of the benchmark file: its headings, table rows (cells joined) and error rates."""
    if not path.is_file():
        return []
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("## ") or line.startswith("ASR error"):
            lines.append(line.lstrip("# "))
        elif line.startswith("|") and not all(set(cell) <= set("-: ") for cell in cells):
            lines.append("  ·  ".join(cell for cell in cells if cell))
    return lines


class AboutScreen(Screen):
    check_servers = Signal()  # the servers' models are asked for (describe / GET /models) when not yet known

    def __init__(self, phrase_count: int, store: ModelStore, servers_configured: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._servers_configured = servers_configured  # until the worker reports the servers
        self._phrase_count = phrase_count
        self._store = store
        layout = page_layout(self)
        self.header = PageHeader(self)
        layout.addWidget(self.header)
        content = QWidget()
        self._column = QVBoxLayout(content)
        self._column.setContentsMargins(0, 0, 12, 0)
        self._column.setSpacing(14)
        self.intro = Label("", "body")
        self._column.addWidget(self.intro)
        self.sections: dict[str, tuple[Label, QVBoxLayout]] = {}
        self.cards = ReflowGrid(min_em=18, max_columns=2)
        cards = []
        for name in TEXT_SECTIONS:
            card = Card()
            card.column.addStretch(1)
            self.sections[name] = (card.title, card.column)
            cards.append(card)
        self.cards.set_items(cards)
        self._column.addWidget(self.cards)
        self._column.addStretch(1)
        self._dynamic: list[QWidget] = []
        self._capability: dict = {}  # kiosk.turn.capability.levels, set by the window
        self._servers: tuple[dict, ...] | None = None  # ServersChecked.servers, None until one came
        self._lang: str | None = None
        layout.addWidget(scroll_area(content), 1)

    def set_capability(self, rows: dict) -> None:
        self._capability = dict(rows)

    def set_servers(self, checked: ServersChecked) -> None:
        self._servers = checked.servers
        if self._lang is not None:
            self.retranslate(self._lang)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._servers is None or any(server["model"] is None for server in self._servers):
            self.check_servers.emit()

    def retranslate(self, lang: str) -> None:
        self._lang = lang
        self.header.title.setText(tr(lang, "about.title"))
        self.header.back_button.set_text(tr(lang, "common.back"))
        self.intro.setText(tr(lang, self._where("about.intro")))
        for widget in self._dynamic:
            discard(widget)
        self._dynamic = []
        for name, (title, card_layout) in self.sections.items():
            title.setText(tr(lang, f"about.{name}_title"))
            self._add(card_layout, Label(tr(lang, self._where(f"about.{name}_body"), count=self._phrase_count), "body"))
        models_layout = self.sections["models"][1]
        for row in self.model_rows():
            self._add(models_layout, Label(row[0], "body", bold=True))
            self._add(models_layout, Label(tr(lang, "about.license_source", license=row[1], source=row[2]),
                                           "caption", "muted"))
            if row[3]:
                self._add(models_layout, Label(tr(lang, "about.measured", date=row[3].date, chrf=f"{row[3].chrf:.1f}",
                                                  pairs=row[3].pairs), "caption", "muted"))
        if self._servers:
            self._add(models_layout, Label(tr(lang, "servers.about"), "body", bold=True))
            for server in self._servers:
                self._add(models_layout, Label(f"{server_line(lang, server)} ({urlsplit(server['url']).hostname})",
                                               "caption", "muted"))
        performance_layout = self.sections["performance"][1]
        figures = benchmark_lines()
        self._add(performance_layout, Label(tr(lang, "about.performance_file" if figures else "about.performance_none"),
                                            "caption", "muted"))
        for line in figures:
            self._add(performance_layout, Label(line, "caption", lang="en"))
        if self._capability:
            # Speech recognition per language: measured on this kiosk (with its date) where it was, else declared.
            self._add(performance_layout, Label(tr(lang, "capability.title"), "body", bold=True))
            for code, row in self._capability.items():
                spec = catalog.language(code)
                name = spec.korean if lang == "ko" else spec.english
                self._add(performance_layout, Label(f"{name}: {tr(lang, LEVEL_KEYS[row.speech_level])} · "
                                                    f"{capability_figure(lang, row)}", "caption", "muted"))
        refresh_fonts(self)

    def _where(self, key: str) -> str:
        """``key``, or its variant that names the servers when some languages use them."""
        uses_servers = bool(self._servers) if self._servers is not None else self._servers_configured
        return f"{key}_servers" if uses_servers and key in WHERE_IT_RUNS else key

    def _add(self, layout: QVBoxLayout, label: Label) -> None:
        layout.insertWidget(layout.count() - 1, label)  # above the stretch that tops cards of a row
        self._dynamic.append(label)

    def model_rows(self) -> list[tuple[str, str, str, evaluations.Summary | None]]:
        """(name, licence, source, quality measured on this kiosk) of each model on this machine, and of
        the espeak-ng fallback voice."""
        return [(row.name, row.license, row.source,
                 evaluations.summary(evaluations.read(row.path)) if row.kind.startswith("mt") else None)
                for row in self._store.inventory(full=False)] + [(*ESPEAK, None)]
