"""A backbone's settings (config `backbones.<name>`), without torch: the Snakefile builds them at DAG time."""

from __future__ import annotations

from dataclasses import dataclass

from genrec.config import Settings
from genrec.errors import GenrecError

ARCHITECTURES = ("qwen2", "qwen3")
KINDS = ("tiny", "hf", "t5")
DTYPE_NAMES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class BackboneSpec(Settings):
    """A backbone of the grid (config `backbones.<name>`, less `resources`, which are its jobs', not the model's)."""

    KEY = "backbones"

    name: str
    kind: str = "tiny"                  # tiny | hf | t5 (TIGER's encoder-decoder over SIDs)
    path: str | None = None             # hf: local directory or hub id
    revision: str | None = None         # hf hub id: the commit to load (a result names the weights it came from)
    prompts: str = "short"              # key of config `prompts`
    dtype: str = "float32"              # weights of an hf model; tiny trains in float32 (bf16 autocast on CPU)
    architecture: str = "qwen2"
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 4
    intermediate_size: int = 1024
    text_vocab_size: int = 4000
    max_position_embeddings: int = 1024
    attention_dropout: float = 0.0
    head_dim: int | None = None         # attention head width (default hidden_size / num_heads; t5: d_kv)

    @classmethod
    def named(cls, name: str, settings: dict) -> BackboneSpec:
        """The backbone `name` from its config entry."""
        return cls.from_config(settings, key=f"backbones.{name}", name=name)

    def __post_init__(self) -> None:
        key = f"backbones.{self.name}"
        if self.kind not in KINDS:
            raise GenrecError(f"unknown backbone kind {self.kind!r}", key=f"{key}.kind", fix=f"use one of {list(KINDS)}")
        if self.kind == "hf" and not self.path:
            raise GenrecError("an `hf` backbone needs `path` (a local directory or hub id)", key=f"{key}.path")
        if self.architecture not in ARCHITECTURES:
            raise GenrecError(f"unknown tiny architecture {self.architecture!r}", key=f"{key}.architecture",
                              fix=f"use one of {list(ARCHITECTURES)}")
        if self.dtype not in DTYPE_NAMES:
            raise GenrecError(f"unknown dtype {self.dtype!r}", key=f"{key}.dtype", fix=f"use one of {list(DTYPE_NAMES)}")
