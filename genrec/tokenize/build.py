"""Item embeddings (or the training interactions) -> Semantic IDs: fit the configured tokenizer, remove
collisions, describe the result.

A tokenizer's settings (config `tokenizers.<name>`) are: method, encoder, collaborative (LETTER), levels,
codebook_size, collision (dedup_level | extra_token | sinkhorn_last | reassign_last | none;
genrec/tokenize/collisions.py), seed, and method-specific `params`. The interaction methods (`sequential`: SID,
`collaborative`: CID) read the training split instead of embeddings; their IDs' length follows from the data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from genrec.config import Settings, from_settings
from genrec.errors import GenrecError
from genrec.tokenize.collisions import KEEPS_COLLISIONS, resolve
from genrec.tokenize.index import codes_to_index
from genrec.tokenize.quantized import Quantized
from genrec.tokenize.stats import index_stats

log = logging.getLogger(__name__)

METHODS = ("rqkmeans", "rqkmeans_constrained", "rqvae", "rqkmeans_plus", "letter", "sequential", "collaborative",
           "imported")
INTERACTION_METHODS = ("sequential", "collaborative")     # IDs from the training split, not from item vectors


@dataclass(frozen=True)
class TokenizerSpec(Settings):
    """A SID tokenizer of the grid (config `tokenizers.<name>`)."""

    KEY = "tokenizers"

    name: str
    method: str
    encoder: str = "minilm"
    collaborative: str | None = None   # letter: the sequential baseline whose item embeddings align the codes
    levels: int = 3
    codebook_size: int = 256
    collision: str = "dedup_level"
    seed: int = 42
    params: dict = field(default_factory=dict)

    @classmethod
    def named(cls, name: str, settings: dict) -> TokenizerSpec:
        """The tokenizer `name` from its config entry."""
        return cls.from_config(settings, key=f"tokenizers.{name}", name=name)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise GenrecError(f"unknown tokenizer method {self.method!r}", key=f"tokenizers.{self.name}.method",
                              fix=f"use one of {list(METHODS)}")
        if (self.method == "letter") != (self.collaborative is not None):
            raise GenrecError("method letter needs `collaborative` (a sequential baseline, e.g. sasrec), and only it "
                              "reads one", key=f"tokenizers.{self.name}.collaborative")
        if self.method in INTERACTION_METHODS and (self.levels, self.codebook_size) != (3, 256):
            raise GenrecError(f"method {self.method} derives its ID length and codes from the data",
                              key=f"tokenizers.{self.name}.levels",
                              fix="leave levels and codebook_size out; see genrec/tokenize/build.py for its params")

    @property
    def reads_interactions(self) -> bool:
        return self.method in INTERACTION_METHODS


def _params(spec: TokenizerSpec, config_class, **fixed):
    """Build a method's config dataclass from `params`, naming any key it does not have."""
    return from_settings(config_class, spec.params, f"tokenizers.{spec.name}.params",
                         "parameter", f" for method {spec.method}", **fixed)


@dataclass
class KMeansParams:
    niter: int = 20            # faiss k-means iterations (rqkmeans)
    gpu: bool | None = None    # rqkmeans: None = use faiss-gpu when installed and a GPU is visible
    max_iter: int = 30         # balanced k-means iterations (rqkmeans_constrained)
    n_init: int = 1


def method_params(spec: TokenizerSpec):
    """The method's parameter dataclass from `params` (KMeansParams or RQVAEConfig), naming any unknown key."""
    if spec.method in ("rqkmeans", "rqkmeans_constrained"):
        return _params(spec, KMeansParams)
    if spec.method == "imported":
        from genrec.tokenize.imported import ImportedParams

        return _params(spec, ImportedParams)
    if spec.method == "sequential":
        from genrec.tokenize.sequential_ids import SequentialParams

        return _params(spec, SequentialParams)
    if spec.method == "collaborative":
        from genrec.tokenize.collaborative_ids import CollaborativeParams

        return _params(spec, CollaborativeParams)
    from genrec.tokenize import rqvae as rq

    return _params(spec, rq.RQVAEConfig, levels=spec.levels, codebook_size=spec.codebook_size, seed=spec.seed,
                   encoder="residual" if spec.method == "rqkmeans_plus" else "mlp")


def fit_interactions(spec: TokenizerSpec, sequences: Sequence[Sequence[int]], n_items: int) -> Quantized:
    """Run an interaction method (SID, CID) on the users' training sequences (users in id order)."""
    p = method_params(spec)
    if spec.method == "sequential":
        from genrec.tokenize.sequential_ids import sequential_ids

        return sequential_ids(sequences, n_items, p)
    from genrec.tokenize.collaborative_ids import collaborative_ids

    return collaborative_ids(sequences, n_items, p)


def fit(spec: TokenizerSpec, x: np.ndarray, collaborative: np.ndarray | None = None) -> Quantized:
    """Run the tokenizer's method on embeddings `x` (items x dim); LETTER also aligns the codes with the
    `collaborative` item embeddings."""
    from genrec.tokenize import rqvae as rq

    p = method_params(spec)
    if spec.method == "rqkmeans":
        from genrec.tokenize.rqkmeans import fit_rqkmeans

        return fit_rqkmeans(x, spec.levels, spec.codebook_size, spec.seed, niter=p.niter, use_gpu=p.gpu)[1]
    if spec.method == "rqkmeans_constrained":
        from genrec.tokenize.rqkmeans_constrained import fit_rqkmeans_constrained

        return fit_rqkmeans_constrained(x, spec.levels, spec.codebook_size, spec.seed, p.max_iter, p.n_init)[1]
    if spec.method == "rqvae":
        return rq.train_rqvae(x, p)
    if spec.method == "letter":
        return rq.train_rqvae(x, p, collaborative=collaborative)
    # rqkmeans_plus: balanced residual k-means in the (PCA) latent, then trained like rqvae from there
    from genrec.tokenize.rqkmeans_constrained import fit_rqkmeans_constrained

    projection = rq.pca(x, p.latent_dim) if p.latent_dim < x.shape[1] else None
    z = x if projection is None else (x - projection[1]) @ projection[0].T
    codebooks, warm = fit_rqkmeans_constrained(z, spec.levels, spec.codebook_size, spec.seed)
    quantized = rq.train_rqvae(x, p, init_codebooks=codebooks, projection=projection)
    quantized.info["warm_start_collision_rate"] = index_stats(warm.codes, warm.codes)["collision_rate_before"]
    return quantized


def check_fit_input(spec: TokenizerSpec, x: np.ndarray) -> None:
    if spec.codebook_size > len(x):
        raise GenrecError(f"codebook size {spec.codebook_size} is larger than the {len(x)} items: level 1 cannot "
                          "have more clusters than points", key=f"tokenizers.{spec.name}.codebook_size",
                          fix=f"use codebook_size <= {len(x)}")
    if spec.levels < 1:
        raise GenrecError("levels must be at least 1", key=f"tokenizers.{spec.name}.levels")


def build_sid(spec: TokenizerSpec, x: np.ndarray | None = None, collaborative: np.ndarray | None = None,
              sequences: Sequence[Sequence[int]] | None = None,
              n_items: int | None = None, with_state: bool = False) -> tuple:
    """Fit (on embeddings `x`, or for the interaction methods on the users' training `sequences`), resolve
    collisions, and return the index (MiniOneRec format) and its statistics; with `with_state`, the learned
    tokenizer's model too (`Quantized.state`: what ETEGRec's joint training starts from)."""
    started = time.perf_counter()
    if spec.reads_interactions:
        quantized = fit_interactions(spec, sequences, n_items)
        sizes = None    # per level, the codes the data needed
    else:
        check_fit_input(spec, x)
        quantized = fit(spec, x, collaborative)
        sizes = [spec.codebook_size] * spec.levels
    fit_seconds = time.perf_counter() - started
    codes = resolve(quantized.codes, spec.collision, quantized.last_distances)
    stats = index_stats(quantized.codes, codes, sizes)
    if spec.collision not in KEEPS_COLLISIONS and stats["collision_rate_after"] != 0.0:
        raise GenrecError(f"collision handling '{spec.collision}' left collisions (internal error)")
    stats |= {"tokenizer": spec.name, "method": spec.method,
              "encoder": "training interactions" if spec.reads_interactions else spec.encoder,
              "collaborative": spec.collaborative, "collision": spec.collision,
              "seed": spec.seed, "params": spec.params, "fit_seconds": round(fit_seconds, 2),
              "fit": dict(quantized.info)}
    log.info("%s: collision rate %.4f before %s (largest group %d), fit %.1f s", spec.name,
             stats["collision_rate_before"], spec.collision, stats["largest_group_before"], fit_seconds)
    if with_state:
        if quantized.state is None:
            raise GenrecError(f"tokenizer '{spec.name}' (method {spec.method}) learns no model to save",
                              key=f"tokenizers.{spec.name}.method", fix="ETEGRec starts from an `rqvae` tokenizer")
        return codes_to_index(codes), stats, quantized.state
    return codes_to_index(codes), stats
