"""The bench's MT timing proxies and lever rows, on tiny shapes (no timing is judged)."""

from dataclasses import replace

import ctranslate2
import pytest

from kiosk.measure.mt_levers import (
    M2M100_418M,
    OPUS_MT_BASE,
    REFERENCE_SENTENCE,
    VMAP_TOKENS,
    build_mt_proxy,
    ensure_mt_proxy,
    mt_lever_rows,
    proxy_dir,
    reference_tokens,
    write_vmap,
)
from kiosk.store import catalog
from mt.seq2seq import SentencePieceTokenizer, Seq2SeqOptions, Seq2SeqTranslator

# The same families and layouts as the real shapes, small enough to build in well under a second.
TINY_M2M = replace(M2M100_418M, name="tiny-m2m100", d_model=64, encoder_layers=2, decoder_layers=2, heads=2,
                   ffn=128, vocabulary=5000)
TINY_OPUS = replace(OPUS_MT_BASE, name="tiny-opus-mt", d_model=32, encoder_layers=1, decoder_layers=1, heads=2,
                    ffn=64, vocabulary=4500)
ROW_KEYS = {"lever", "variant", "stage", "p50_s", "baseline_p50_s", "gain_s", "accuracy", "decision", "why"}


def test_real_shapes_have_the_published_sizes():
    # M2M-100 "418M" counts 484M weights with its 128 112 x 1024 shared embeddings; opus-mt-ko-en about 77M.
    assert 483e6 < M2M100_418M.parameters < 485e6
    assert 76e6 < OPUS_MT_BASE.parameters < 78e6
    assert (OPUS_MT_BASE.family, OPUS_MT_BASE.pre_norm, OPUS_MT_BASE.activation) == ("marian", False, "swish")


@pytest.mark.parametrize("shape", [TINY_M2M, TINY_OPUS], ids=lambda shape: shape.family)
def test_a_proxy_loads_in_the_kiosks_translator(tmp_path, shape):
    target = tmp_path / shape.proxy_id
    build_mt_proxy(target, shape)
    tokens = reference_tokens(target)
    if shape.family == "marian":
        assert (target / "source.spm").is_file() and (target / "target.spm").is_file()
        languages, targets = ("ko",), ("en",)
    else:
        languages, targets = catalog.LANGUAGE_CODES, None
    translator = Seq2SeqTranslator(target, family=shape.family, languages=languages, target_languages=targets,
                                   options=Seq2SeqOptions(intra_threads=1, max_decoding_length=tokens))
    assert translator.supports("ko", "en")
    [text] = translator.translate(["이 양식을 작성해 주세요."], "ko", "en")
    assert text.strip()  # noise, but decoded to the full length: end of sentence is masked out

    # The same decode, straight through CTranslate2: the reference sentence's length, no early stop.
    model = ctranslate2.Translator(str(target), intra_threads=1)
    prefix = translator.target_prefix("en")
    [result] = model.translate_batch([translator.source_tokens("이 양식을 작성해 주세요.", "ko", "en")],
                                     target_prefix=[prefix] if prefix else None, max_decoding_length=tokens)
    assert len(result.hypotheses[0]) == tokens


def test_a_vocabulary_map_is_accepted_and_restricts_the_output(tmp_path):
    target = tmp_path / TINY_OPUS.proxy_id
    build_mt_proxy(target, TINY_OPUS)
    path = write_vmap(target, size=100)
    [line] = path.read_text(encoding="utf-8").splitlines()
    key, candidates = line.split("\t")
    allowed = candidates.split(" ")
    reference = SentencePieceTokenizer(target, target / "target.spm").pieces(REFERENCE_SENTENCE)
    assert key == "" and len(allowed) == 100 and allowed[:len(set(reference))] == list(dict.fromkeys(reference))

    source = ["▁이", "</s>"]
    model = ctranslate2.Translator(str(target), intra_threads=1)
    free = model.translate_batch([source], max_decoding_length=10)[0].hypotheses[0]
    mapped = model.translate_batch([source], max_decoding_length=10, use_vmap=True)[0].hypotheses[0]
    assert not set(free) <= set(allowed)  # random weights pick from the whole vocabulary...
    assert set(mapped) <= set(allowed)  # ...until the map narrows it

    translator = Seq2SeqTranslator(target, family="marian", languages=("ko",), target_languages=("en",),
                                   options=Seq2SeqOptions(intra_threads=1, max_decoding_length=10, use_vmap=True))
    assert translator.translate(["이 양식을 작성해 주세요."], "ko", "en")[0].strip()


def test_ensure_builds_once_in_a_child_process(tmp_path):
    path, built_s = ensure_mt_proxy(tmp_path, TINY_OPUS)
    assert path == proxy_dir(tmp_path, TINY_OPUS) and (path / "model.bin").is_file() and built_s > 0
    assert ensure_mt_proxy(tmp_path, TINY_OPUS) == (path, None)


def test_lever_rows_are_well_formed(tmp_path):
    rows = mt_lever_rows(tmp_path, threads=1, quick=True, large=TINY_M2M, small=TINY_OPUS)

    assert all(set(row) == ROW_KEYS for row in rows)
    assert {row["lever"] for row in rows} == {"MT model size", "MT beam", "MT pivot", "MT vocabulary map"}
    baseline = rows[0]
    assert baseline["decision"] == "taken" and baseline["gain_s"] == 0 and "beam 2" in baseline["variant"]
    for row in rows:
        assert row["stage"] == "mt" and row["decision"] in {"taken", "off", "provisioning choice"}
        assert row["p50_s"] > 0 and row["baseline_p50_s"] == baseline["p50_s"]
        assert row["gain_s"] == pytest.approx(row["baseline_p50_s"] - row["p50_s"], abs=2e-4)
        assert row["accuracy"] and row["why"] and row["variant"]
    assert all("not measurable here" in row["accuracy"] for row in rows[1:])
    # Built once, cached where the bench keeps its proxies, with the vocabulary map beside each model.
    for shape in (TINY_M2M, TINY_OPUS):
        assert (proxy_dir(tmp_path, shape) / "vmap.txt").is_file()
    assert len((proxy_dir(tmp_path, TINY_M2M) / "vmap.txt").read_text().split()) == VMAP_TOKENS
