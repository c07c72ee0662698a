"""A Whisper-shaped CTranslate2 model with random int8 weights: the memory and timing proxy of a
larger Whisper (whisper-small by default), which cannot be downloaded here.

Like the bench's MT proxy (kiosk/measure/bench.py, ``build_mt_proxy``): the shapes and the
weight type of the real model, random values, so what it writes is nonsense but what it costs
in memory and time is the real model's. The vocabulary, tokenizer and config are copied from a
real Whisper (all multilingual Whispers but large-v3 share them).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

# whisper-small: d_model 768, 12 encoder and 12 decoder layers of 12 heads (openai/whisper-small config.json).
SMALL = {"d": 768, "layers": 12, "heads": 12}
MELS, ENCODER_POSITIONS, DECODER_POSITIONS = 80, 1500, 448


def build_whisper_proxy(target: Path, reference: Path, *, d: int, layers: int, heads: int, seed: int = 0) -> Path:
    from ctranslate2.specs import model_spec
    from ctranslate2.specs.whisper_spec import WhisperSpec

    vocabulary = (reference / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    rng = np.random.default_rng(seed)

    def linear(spec, rows: int, cols: int) -> None:
        spec.weight = rng.integers(-127, 128, size=(rows, cols), dtype=np.int8)
        spec.weight_scale = np.full(rows, 127.0 / 0.05, dtype=np.float32)  # weights in +-0.05
        spec.bias = np.zeros(rows, dtype=np.float32)

    def norm(spec) -> None:
        spec.gamma = np.ones(d, dtype=np.float32)
        spec.beta = np.zeros(d, dtype=np.float32)

    def floats(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.02, size=shape).astype(np.float32)

    spec = WhisperSpec(layers, heads, layers, heads)
    encoder, decoder = spec.encoder, spec.decoder
    encoder.conv1.weight, encoder.conv1.bias = floats(d, MELS, 3), np.zeros(d, np.float32)
    encoder.conv2.weight, encoder.conv2.bias = floats(d, d, 3), np.zeros(d, np.float32)
    encoder.position_encodings.encodings = floats(ENCODER_POSITIONS, d)
    decoder.position_encodings.encodings = floats(DECODER_POSITIONS, d)
    norm(encoder.layer_norm)
    norm(decoder.layer_norm)
    for layer in encoder.layer:
        norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * d, d)
        linear(layer.self_attention.linear[1], d, d)
        norm(layer.ffn.layer_norm)
        linear(layer.ffn.linear_0, 4 * d, d)
        linear(layer.ffn.linear_1, d, 4 * d)
    for layer in decoder.layer:
        norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * d, d)
        linear(layer.self_attention.linear[1], d, d)
        norm(layer.attention.layer_norm)
        linear(layer.attention.linear[0], d, d)
        linear(layer.attention.linear[1], 2 * d, d)
        linear(layer.attention.linear[2], d, d)
        norm(layer.ffn.layer_norm)
        linear(layer.ffn.linear_0, 4 * d, d)
        linear(layer.ffn.linear_1, d, 4 * d)
    # Tied, as in Whisper; the saved model holds the matrix once (what spec.optimize would find).
    embeddings = rng.integers(-127, 128, size=(len(vocabulary), d), dtype=np.int8)
    scale = np.full(len(vocabulary), 127.0 / 0.05, dtype=np.float32)
    for tied in (decoder.embeddings, decoder.projection):
        tied.weight, tied.weight_scale = embeddings, scale
    spec.register_vocabulary(vocabulary)
    spec.validate()
    assert isinstance(spec, model_spec.ModelSpec)
    target.mkdir(parents=True, exist_ok=True)
    spec.save(str(target))
    for name in ("config.json", "tokenizer.json", "preprocessor_config.json"):
        if (reference / name).is_file():
            shutil.copy(reference / name, target / name)
    return target
