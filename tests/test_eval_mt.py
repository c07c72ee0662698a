"""`kiosk eval mt`, translation coverage in `kiosk doctor` and the staff panel, and routing by
measured quality.

The mechanics run on tiny random-weight models (their scores mean nothing and are not asserted).
Tests marked ``real_mt`` score the real translation models installed in the user's store (the
one the environment names when pytest starts) and are skipped when there is none.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import REPO
from kiosk.measure.eval_mt import PARALLEL_FILE, SCRIPT_LETTERS, bleu_tokenizer, in_script
from kiosk.store import catalog, evaluations, models
from kiosk.store.catalog import ModelEntry
from kiosk.store.environment import from_environment
from mt.router import Router

# Read at collection, before the suite's hermetic store replaces the environment's.
USER_STORE = from_environment()
USER_ENV = {name: os.environ[name] for name in ("KIOSK_DATA_DIR", "KIOSK_SYSTEM_STORES", "KIOSK_CATALOG")
            if name in os.environ}


def install_tiny(store: Path, model_id: str, family: str = "m2m100", languages=catalog.LANGUAGE_CODES,
                 seed: int = 0) -> Path:
    """A tiny model (tests/tiny_mt.py) installed in ``store`` like any other."""
    from tiny_mt import build_marian, build_seq2seq

    if family == "marian":
        model_dir = build_marian(store / model_id, languages[0], languages[1], seed=seed)
    else:
        model_dir = build_seq2seq(store / model_id, family, seed=seed)
    entry = ModelEntry(id=model_id, kind="mt-seq2seq", engine="ctranslate2", family=family, name=model_id,
                       languages=tuple(languages), license="test", source="built by the test", size_mb=0)
    models.write_manifest(model_dir, entry, [p.name for p in model_dir.iterdir()])
    return model_dir


def declare(store: Path, model_id: str, languages: tuple[str, ...], family: str = "m2m100") -> Path:
    """A manifest with one small file: enough for coverage, which loads nothing."""
    model_dir = store / model_id
    model_dir.mkdir()
    (model_dir / "model.bin").write_bytes(b"stand-in")
    entry = ModelEntry(id=model_id, kind="mt-seq2seq", engine="ctranslate2", family=family, name=model_id,
                       languages=languages, license="test", source="test", size_mb=0)
    models.write_manifest(model_dir, entry, ["model.bin"])
    return model_dir


def fake_evaluation(model_dir: Path, scores: dict[str, tuple[float, float]], date="2026-11-30T10:00:00+00:00") -> None:
    pairs = {pair: {"sentences": 99, "chrf": chrf, "bleu": 0.0, "bleu_tokenizer": "13a", "target_script_share": 1.0,
                    "ms_per_sentence": ms, "tokens_per_s": 100.0} for pair, (chrf, ms) in scores.items()}
    evaluations.write(model_dir, {"version": evaluations.VERSION, "model_id": model_dir.name, "date": date,
                                  "sets": {"phrasebook": {"description": "test", "pairs": pairs}}})


# --- kiosk eval mt ----------------------------------------------------------------------------


def test_eval_mt_scores_a_model_and_stores_the_result(kiosk_cli, isolated_store):
    model_dir = install_tiny(isolated_store, "tiny-m2m")
    result = kiosk_cli("eval", "mt", "--model", "tiny-m2m", "--pairs", "ko-vi,vi-ko,ko-en", "--limit", "3", "--json")
    assert result.code == 0, result.stderr
    report = result.json
    assert report["model_id"] == "tiny-m2m" and report["kiosk_version"] and report["cpu"]
    assert report["date"].startswith("20") and report["threads"] >= 1 and report["sacrebleu"].startswith("2.")
    phrasebook = report["sets"]["phrasebook"]["pairs"]
    assert set(phrasebook) == {"ko-vi", "vi-ko", "ko-en"}
    for pair, row in phrasebook.items():
        assert row["sentences"] == 3
        assert 0 <= row["chrf"] <= 100 and 0 <= row["bleu"] <= 100
        assert 0 <= row["target_script_share"] <= 1
        assert row["ms_per_sentence"] > 0 and row["tokens_per_s"] > 0
    assert phrasebook["ko-vi"]["bleu_tokenizer"] == "13a" and phrasebook["vi-ko"]["bleu_tokenizer"] == bleu_tokenizer("ko")
    if PARALLEL_FILE.is_file():  # FLEURS: English <-> Korean only
        assert set(report["sets"]["fleurs"]["pairs"]) == {"ko-en"}
    else:
        assert "fleurs" not in report["sets"]
    stored = json.loads((model_dir / evaluations.EVALUATION).read_text(encoding="utf-8"))
    assert report["stored"] == str(model_dir / evaluations.EVALUATION)
    assert stored["sets"] == report["sets"] and stored["date"] == report["date"]
    # The file beside the manifest changes no checksum.
    assert kiosk_cli("models", "verify", "tiny-m2m").code == 0
    summary = evaluations.summary(stored)
    assert summary.pairs == 3 and summary.date == report["date"][:10]


def test_eval_mt_default_pairs_and_errors(kiosk_cli, isolated_store):
    install_tiny(isolated_store, "tiny-ko-en", family="marian", languages=("ko", "en"))
    result = kiosk_cli("eval", "mt", "--limit", "2", "--json")
    assert result.code == 0, result.stderr
    assert set(result.json["sets"]["phrasebook"]["pairs"]) == {"ko-en"}  # one way only
    result = kiosk_cli("eval", "mt", "--pairs", "en-ko,ko-en", "--limit", "1")
    assert result.code == 0 and "not covered by the model: en-ko" in result.stdout
    missing = kiosk_cli("eval", "mt", "--model", "nope", "--json")
    assert missing.code == 3 and missing.json["model_id"] == "nope"
    bad = kiosk_cli("eval", "mt", "--pairs", "ko-xx")
    assert bad.code == 2 and "xx" in bad.stderr


def test_eval_mt_without_a_model_names_the_one_to_install(kiosk_cli, isolated_store):
    result = kiosk_cli("eval", "mt", "--json")
    assert result.code == 3 and result.json["model_id"] == "m2m100-418m"


@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("안녕하세요, 잠시만 기다려 주세요.", "ko", True),
    ("Please wait here.", "ko", False),
    ("请在这里等一下。", "zh", True),
    ("請在這裡等一下。", "zh", False),  # Traditional
    ("こちらでお待ちください。", "ja", True),
    ("请在这里等一下谢谢", "ja", False),  # Han alone reads as Chinese
    ("กรุณารอสักครู่", "th", True),
    ("សូមរង់ចាំបន្តិច", "km", True),
    ("कृपया यहाँ पर्खनुहोस्", "ne", True),
    ("Подождите здесь, пожалуйста.", "ru", True),
    ("Энд хүлээнэ үү.", "mn", True),
    ("Vui lòng chờ ở đây.", "vi", True),
    ("Iltimos, shu yerda kuting.", "uz", True),
    ("Пожалуйста, подождите.", "uz", False),
    ("Please wait here (서류).", "en", True),
    ("123 456", "en", False),
    ("", "id", False),
])
def test_script_check(text, lang, expected):
    assert in_script(text, lang) is expected


def test_every_language_script_is_known():
    assert {lang.script for lang in catalog.languages().values()} <= set(SCRIPT_LETTERS)


def test_bleu_tokenizers_need_no_download():
    assert bleu_tokenizer("zh") == "zh" and bleu_tokenizer("th") == "char" and bleu_tokenizer("km") == "char"
    assert bleu_tokenizer("vi") == "13a" and bleu_tokenizer("ko") in ("char", "ko-mecab")
    assert bleu_tokenizer("ja") in ("char", "ja-mecab")


# --- routing by measured quality --------------------------------------------------------------


class Stub:
    engine = "seq2seq"

    def __init__(self, model_id: str, pairs=None) -> None:
        self.model_id = model_id
        self.pairs = pairs

    def supports(self, source: str, target: str) -> bool:
        return self.pairs is None or (source, target) in self.pairs

    def translate(self, texts, source, target):
        return [f"{self.model_id}:{t}" for t in texts]

    def warm_up(self) -> None:
        pass


def test_router_ranks_by_measured_chrf_then_speed():
    a, b, c = Stub("a"), Stub("b"), Stub("c")
    langs = ("ko", "vi", "en", "th")
    quality = {("b", "ko", "vi"): (50.0, 90.0), ("c", "ko", "vi"): (50.0, 40.0), ("a", "ko", "vi"): (30.0, 10.0)}
    router = Router(None, [a, b, c], languages=langs, quality=quality)
    assert [r.model_id for r in router.routes("ko", "vi")][:3] == ["c", "b", "a"]  # tie on chrF++: the faster
    assert router.translate("안녕", "ko", "vi").model_id == "c"
    # Unmeasured pair: the order given (the catalogue's).
    assert [r.model_id for r in router.routes("vi", "ko")][:3] == ["a", "b", "c"]
    # Measured before unmeasured.
    router = Router(None, [a, b], languages=langs, quality={("b", "ko", "th"): (10.0, 1.0)})
    assert [r.model_id for r in router.routes("ko", "th")][:2] == ["b", "a"]


def test_engines_route_to_the_best_measured_model(isolated_store):
    from kiosk.turn.coverage import coverage, declared_router
    from kiosk.turn.engines import Engines

    first = install_tiny(isolated_store, "tiny-a", seed=1)
    second = install_tiny(isolated_store, "tiny-b", seed=2)
    store = from_environment()
    assert Engines(store=store).router.routes("ko", "vi")[0].model_id == "tiny-a"  # nothing measured: the order
    fake_evaluation(first, {"ko-vi": (30.0, 50.0), "vi-ko": (40.0, 50.0)})
    fake_evaluation(second, {"ko-vi": (45.0, 80.0), "vi-ko": (40.0, 20.0)})
    router = Engines(store=store).router
    assert router.routes("ko", "vi")[0].model_id == "tiny-b"
    assert router.routes("vi", "ko")[0].model_id == "tiny-b"  # a tie goes to the faster
    assert router.translate("물 한 잔 주세요", "ko", "vi").model_id == "tiny-b"
    served = {row.pair: row.model_id for row in coverage(declared_router(store), store)}
    assert served["ko-vi"] == served["vi-ko"] == "tiny-b" and served["ko-th"] == "tiny-a"


def test_routing_falls_back_to_catalogue_order(isolated_store):
    from kiosk.turn.engines import Engines

    # Given in the other order (as the store's directory listing would list them).
    engines = Engines(store=from_environment(), translators=[Stub("nllb-200-distilled-600m"), Stub("m2m100-418m")])
    assert engines.router.routes("ko", "vi")[0].model_id == "m2m100-418m"


# --- coverage: kiosk doctor, the staff panel --------------------------------------------------


def test_doctor_warns_without_a_translation_model(kiosk_cli, isolated_store):
    result = kiosk_cli("doctor", "--json")
    assert result.code == 0, result.stdout  # a warning, not a failure
    translation = result.json["translation"]
    assert translation["models"] == [] and len(translation["pairs"]) == 24
    assert all(row["phrasebook_only"] and row["recommended"] == "m2m100-418m" for row in translation["pairs"])
    assert any("m2m100-418m" in warning for warning in result.json["warnings"])
    strict = kiosk_cli("doctor", "--strict")
    assert strict.code == 1
    assert "OK, WITH WARNINGS" in strict.stdout and "no translation model" in strict.stdout
    assert "vi -> ko  phrasebook only (install m2m100-418m)" in strict.stdout


def test_doctor_names_the_model_and_pivot_of_each_pair(kiosk_cli, isolated_store):
    declare(isolated_store, "opus-mt-ko-en", ("ko", "en"), family="marian")
    declare(isolated_store, "opus-mt-en-vi", ("en", "vi"), family="marian")
    result = kiosk_cli("doctor", "--json")
    pairs = {row["pair"]: row for row in result.json["translation"]["pairs"]}
    assert pairs["ko-en"]["model"] == "opus-mt-ko-en" and pairs["ko-en"]["pivot"] is None
    assert pairs["ko-vi"]["model"] == "opus-mt-ko-en+opus-mt-en-vi" and pairs["ko-vi"]["pivot"] == "en"
    assert pairs["vi-ko"]["phrasebook_only"] and pairs["vi-ko"]["recommended"] == "m2m100-418m"
    assert "vi-ko" in result.json["translation"]["phrasebook_only"]
    assert kiosk_cli("doctor", "--strict").code == 1  # pairs with only the phrasebook
    declare(isolated_store, "m2m100-418m", catalog.LANGUAGE_CODES)
    result = kiosk_cli("doctor", "--strict", "--json")
    assert result.code == 0 and result.json["warnings"] == []
    pairs = {row["pair"]: row for row in result.json["translation"]["pairs"]}
    # Nothing measured: catalogue order, where M2M-100 comes first.
    assert pairs["ko-en"]["model"] == pairs["vi-ko"]["model"] == "m2m100-418m"


def _texts(widget) -> list[str]:
    from PySide6.QtWidgets import QLabel

    return [label.text() for label in widget.findChildren(QLabel)]


def test_staff_panel_and_about_card_show_coverage_and_measured_quality(qtbot, tmp_path, isolated_store):
    from kiosk.ui.i18n import tr
    from ui_support import open_kiosk

    model_dir = declare(isolated_store, "m2m100-418m", catalog.LANGUAGE_CODES)
    fake_evaluation(model_dir, {"ko-vi": (40.0, 50.0), "vi-ko": (44.0, 50.0)})
    with open_kiosk(tmp_path) as kiosk:
        staff = kiosk.window.staff
        staff.open_settings()
        qtbot.waitUntil(lambda: any("m2m100-418m" in label.text() for label in staff._model_rows), timeout=30_000)
        texts = [label.text() for label in staff._model_rows]
        measured = tr("ko", "about.measured", date="2026-11-30", chrf="42.0", pairs=2)
        assert measured in texts and tr("ko", "staff.coverage") in texts
        vietnamese = catalog.language("vi").korean  # the panel names languages in its own language
        assert any(text.startswith(f"{vietnamese}: vi→ko m2m100-418m · ko→vi m2m100-418m") for text in texts)
        assert not any(tr("ko", "staff.no_mt_model", model="m2m100-418m") == text for text in texts)
        kiosk.window.about.retranslate("ko")
        assert measured in _texts(kiosk.window.about)


def test_staff_panel_warns_without_a_translation_model(qtbot, tmp_path, isolated_store):
    from kiosk.ui.i18n import tr
    from ui_support import open_kiosk

    with open_kiosk(tmp_path) as kiosk:
        staff = kiosk.window.staff
        staff.open_settings()
        warning = tr("ko", "staff.no_mt_model", model="m2m100-418m")
        qtbot.waitUntil(lambda: any(label.text() == warning for label in staff._model_rows), timeout=30_000)
        assert any(tr("ko", "staff.phrasebook_only") in label.text() for label in staff._model_rows)


# --- real models (a provisioning machine) -----------------------------------------------------


def _real_models() -> list[str]:
    try:
        installed = USER_STORE.installed().values()
    except OSError:
        return []
    return [m.id for m in installed if m.kind.startswith("mt") and m.id in USER_STORE.catalog.models]


REAL_PAIRS = "ko-en,en-ko,ko-vi,vi-ko,ko-zh,zh-ko"


@pytest.mark.real_mt
@pytest.mark.parametrize("model_id", _real_models() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no real translation model is installed in the user's store (kiosk models pull m2m100-418m; "
           "README, Measured translation quality)"))])
def test_real_model_translates_into_the_right_language(kiosk_cli, model_id):
    """The installed model's phrasebook scores and output scripts; the result is stored with it."""
    env = {"KIOSK_DATA_DIR": str(USER_STORE.data_dir),
           "KIOSK_SYSTEM_STORES": os.pathsep.join(str(p) for p in USER_STORE.system_dirs), **USER_ENV}
    result = kiosk_cli("eval", "mt", "--model", model_id, "--pairs", REAL_PAIRS, "--json", env=env, timeout=3600)
    assert result.code == 0, result.stderr
    rows = result.json["sets"]["phrasebook"]["pairs"]
    assert rows, f"{model_id} covers none of {REAL_PAIRS}"
    for pair, row in rows.items():
        assert row["target_script_share"] >= 0.9, f"{model_id} {pair}: {row}"
        assert row["chrf"] >= 20, f"{model_id} {pair}: {row}"


def test_real_mt_marker_is_registered():
    assert "real_mt:" in (REPO / "pyproject.toml").read_text(encoding="utf-8")
