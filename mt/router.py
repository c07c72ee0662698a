"""Choose how to translate a pair: phrasebook, then a direct model, then a pivot, then none.

Every outcome is a ``Translation``; "no model covers the pair" and "the model failed" are
normal, explained results (``engine="none"`` with a ``reason``), not exceptions. Logs name
models and error kinds, never the text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

from . import Engine, InvalidInputError, Translation, TranslationCancelled, Translator
from .phrasebook import Phrasebook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """One way to machine-translate a pair: a single model, or two through a pivot language."""

    legs: tuple[Translator, ...]
    pivot: str | None = None

    @property
    def model_id(self) -> str:
        return "+".join(leg.model_id for leg in self.legs)

    @property
    def engine(self) -> Engine:
        # The last leg wrote the text the user sees.
        return self.legs[-1].engine

    def run(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str]:
        if self.pivot is None:
            return self.legs[0].translate(texts, source_lang, target_lang)
        first, second = self.legs
        return second.translate(first.translate(texts, source_lang, self.pivot), self.pivot, target_lang)


class Router:
    """Translates text between the kiosk's languages by the best available means.

    Order: same language (``engine="identity"``, the text itself, trimmed), phrasebook
    (``curated=True``), the first translator covering the pair, a pivot through
    ``pivot_lang`` with two translators, otherwise ``engine="none"`` with a reason.
    A route that raises or returns empty text falls through to the next one.

    ``quality`` ranks the translators of a pair: (model id, source, target) -> (score, ms per
    sentence), higher scores first, ties to the faster; the caller measures them (the kiosk:
    chrF++ from ``kiosk eval mt``). Measured translators go before unmeasured ones, which keep
    the order given; a pivot route ranks by its weaker leg. Direct routes stay before pivots.

    ``languages`` are the codes it accepts (others raise ``InvalidInputError``); by default
    the phrasebook's languages, so a router without a phrasebook must be given them.
    """

    def __init__(
        self,
        phrasebook: Phrasebook | None,
        translators: Sequence[Translator],
        pivot_lang: str | None = "en",
        languages: Collection[str] | None = None,
        quality: Mapping[tuple[str, str, str], tuple[float, float]] | None = None,
    ) -> None:
        if languages is None:
            if phrasebook is None:
                raise ValueError("a router without a phrasebook needs the languages it accepts")
            languages = phrasebook.languages
        self.phrasebook = phrasebook
        self.translators = list(translators)
        self.languages = frozenset(languages)
        if pivot_lang is not None:
            self._check_language(pivot_lang)
        self.pivot_lang = pivot_lang
        self.quality = dict(quality or {})

    def routes(self, source_lang: str, target_lang: str) -> list[Route]:
        """The machine translation routes for a pair, best first."""
        routes = self._ranked([Route((t,)) for t in self.translators if t.supports(source_lang, target_lang)],
                              source_lang, target_lang)
        pivot = self.pivot_lang
        if pivot is not None and pivot not in (source_lang, target_lang):
            routes += self._ranked([
                Route((first, second), pivot)
                for first in self.translators if first.supports(source_lang, pivot)
                for second in self.translators if second.supports(pivot, target_lang)
            ], source_lang, target_lang)
        return routes

    def _ranked(self, routes: list[Route], source_lang: str, target_lang: str) -> list[Route]:
        """Measured routes first, best score then fastest; unmeasured ones after, in the order given."""
        if not self.quality:
            return routes

        def measured(route: Route) -> tuple[float, float] | None:
            langs = [source_lang, *([route.pivot] if route.pivot else []), target_lang]
            legs = [self.quality.get((leg.model_id, langs[i], langs[i + 1])) for i, leg in enumerate(route.legs)]
            if any(leg is None for leg in legs):
                return None
            return min(score for score, _ in legs), sum(ms for _, ms in legs)

        keys = [measured(route) for route in routes]
        order = sorted(range(len(routes)), key=lambda i: (0, -keys[i][0], keys[i][1], i) if keys[i] else (1, 0, 0, i))
        return [routes[i] for i in order]

    def translate(self, text: str, source_lang: str, target_lang: str) -> Translation:
        return self.translate_many([text], source_lang, target_lang)[0]

    def translate_many(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[Translation]:
        """Translate texts of one pair; those the phrasebook lacks go to the models as one batch."""
        self._check_language(source_lang)
        self._check_language(target_lang)
        if any(not text.strip() for text in texts):
            raise InvalidInputError("text to translate must not be empty")
        texts = [text.strip() for text in texts]

        def result(text: str, engine: Engine, **details) -> Translation:
            return Translation(text, source_lang, target_lang, engine, **details)

        if source_lang == target_lang:
            return [result(text, "identity") for text in texts]

        results: list[Translation | None] = []
        for text in texts:
            curated = self.phrasebook.lookup(text, source_lang, target_lang) if self.phrasebook else None
            results.append(result(curated, "phrasebook", curated=True) if curated is not None else None)

        pending = [i for i, translation in enumerate(results) if translation is None]
        routes = self.routes(source_lang, target_lang) if pending else []
        failures: list[str] = []
        for route in routes:
            try:
                translated = route.run([texts[i] for i in pending], source_lang, target_lang)
                outputs = list(zip(pending, translated, strict=True))  # a short answer counts as a failure
            except TranslationCancelled:
                raise  # the caller abandoned the turn: no other route should start
            except Exception as exc:  # a model failing at run time is an outcome, not a crash
                log.warning("translation by %s failed: %s", route.model_id, type(exc).__name__)
                failures.append(f"{route.model_id} failed ({type(exc).__name__})")
                continue
            still_pending = []
            for i, output in outputs:
                if output.strip():
                    results[i] = result(output.strip(), route.engine, model_id=route.model_id, pivot=route.pivot)
                else:
                    still_pending.append(i)
            if still_pending:
                log.warning("translation by %s returned %d empty results", route.model_id, len(still_pending))
                failures.append(f"{route.model_id} returned an empty translation")
            pending = still_pending
            if not pending:
                break

        if failures:
            reason = "translation failed: " + "; ".join(failures)
        else:
            reason = f"no translation model installed for {source_lang}→{target_lang}"
        return [translation or result("", "none", reason=reason) for translation in results]

    def _check_language(self, lang: str) -> None:
        if lang not in self.languages:
            raise InvalidInputError(
                f"unknown language code {lang!r} (expected one of {', '.join(sorted(self.languages))})"
            )
