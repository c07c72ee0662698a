"""Translation coverage: which model serves each resident language <-> Korean pair, directly or
through a pivot, and which pairs have only the phrasebook.

The router's own ``routes`` decides (``mt.router.Router``, ranked by measured quality as the
engines rank it), so `kiosk doctor`, the staff panel and the start-up log say what a turn
would do. ``declared_router`` builds that router from the store's manifests without loading any
model: each installed translation model that may be loaded stands in for its translator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kiosk.store import catalog, evaluations
from kiosk.store.models import InstalledModel, ModelStore
from kiosk.turn.pipeline import recommended_mt_model
from mt.router import Router

log = logging.getLogger(__name__)

OFFICER = "ko"
MT_KINDS = ("mt-seq2seq", "mt-llm")


@dataclass(frozen=True)
class DeclaredTranslator:
    """A translation model as its manifest declares it: the pairs it covers, nothing loaded."""

    model_id: str
    engine: str
    sources: frozenset[str]
    targets: frozenset[str]

    def supports(self, source_lang: str, target_lang: str) -> bool:
        return source_lang != target_lang and source_lang in self.sources and target_lang in self.targets

    @classmethod
    def of(cls, model: InstalledModel) -> DeclaredTranslator:
        sources, targets = model.translation_directions
        return cls(model.id, "seq2seq" if model.kind == "mt-seq2seq" else "llm", frozenset(sources), frozenset(targets))


def translation_models(store: ModelStore) -> list[InstalledModel]:
    """The installed translation models the kiosk would load, in catalogue order."""
    known = list(store.catalog.models)
    models = [m for m in store.installed().values()
              if m.kind.startswith("mt") and store.preload_check(m).ok]
    return sorted(models, key=lambda m: known.index(m.id) if m.id in known else len(known))


def declared_router(store: ModelStore) -> Router:
    return Router(None, [DeclaredTranslator.of(m) for m in translation_models(store)],
                  languages=catalog.LANGUAGE_CODES, quality=evaluations.measured_quality(store))


@dataclass(frozen=True)
class PairCoverage:
    source: str
    target: str
    model_id: str | None  # "first+second" through a pivot; None: the phrasebook only
    pivot: str | None = None
    recommended: str | None = None  # the catalogue's model for the pair, when none is installed

    @property
    def pair(self) -> str:
        return f"{self.source}-{self.target}"

    def as_dict(self) -> dict:
        return {"pair": self.pair, "source": self.source, "target": self.target, "model": self.model_id,
                "pivot": self.pivot, "phrasebook_only": self.model_id is None, "recommended": self.recommended}


def coverage(router: Router, store: ModelStore, officer: str = OFFICER) -> list[PairCoverage]:
    """Each resident language to and from the officer's, in the kiosk's order: the route a turn takes first."""
    rows = []
    for resident in catalog.LANGUAGE_CODES:
        if resident == officer:
            continue
        for source, target in ((resident, officer), (officer, resident)):
            routes = router.routes(source, target)
            if routes:
                rows.append(PairCoverage(source, target, routes[0].model_id, routes[0].pivot))
            else:
                rows.append(PairCoverage(source, target, None, recommended=recommended_mt_model(store.catalog, source, target)))
    return rows


def log_coverage(rows: list[PairCoverage]) -> None:
    """The start-up log's lines: one per served pair, a warning naming the pairs with the phrasebook only."""
    for row in rows:
        if row.model_id:
            log.info("translation %s: %s%s", row.pair, row.model_id, f" (via {row.pivot})" if row.pivot else "")
    missing = [row for row in rows if row.model_id is None]
    if missing:
        log.warning("translation: phrasebook only for %s; install %s", " ".join(row.pair for row in missing),
                    ", ".join(sorted({row.recommended for row in missing})))
