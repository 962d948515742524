"""Residual-quantised VAE (TIGER / LC-Rec / MiniOneRec's RQ-VAE) and its RQ-KMeans+ variant.

- `rqvae`: MLP encoder x -> z (latent_dim), L residual codebooks initialised by k-means on the untrained
  latents, MLP decoder; loss = reconstruction (MSE or cosine) + per level ||sg(r) - e||^2 + beta ||r - sg(e)||^2,
  straight-through gradients.
- `rqkmeans_plus` (GPR / MiniOneRec's RQ-KMeans+): residual encoder z = x + MLP(x) whose last layer starts
  at zero (so training starts exactly at the k-means solution), codebooks warm-started from balanced
  residual k-means on x, then trained the same way.

- `letter` (LETTER, Wang et al., CIKM 2024; HonghuiBao2000/LETTER @ 8d0154e, RQ-VAE/): `rqvae` plus two
  regularisers. Collaborative: the quantised latent of each item must pick out its own collaborative embedding
  (a sequential baseline's) among the batch's, in-batch cross-entropy on raw dot products (rqvae.py:75-80).
  Diversity: at every level the codebook is clustered (balanced k-means, 10 clusters, every epoch), and each
  item's assigned code is pulled towards a random other code of its cluster against the rest of the codebook
  (vq.py:69-107), which spreads items over the codes.

Training stops early on the collision rate of the deterministic codes: every `eval_every` epochs the codes
of all items are computed and the state with the fewest collisions is kept; training ends after `patience`
evaluations without improvement, at zero collisions, or at `max_seconds`. Codes left unused by a batch
for a while are restarted on random residuals (otherwise dead codes are the main source of collisions).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genrec.errors import GenrecError
from genrec.progress import progress
from genrec.tokenize.collisions import collision_summary
from genrec.tokenize.quantized import Quantized

log = logging.getLogger(__name__)


@dataclass
class RQVAEConfig:
    levels: int = 3
    codebook_size: int = 256
    latent_dim: int = 32
    hidden: list[int] = field(default_factory=lambda: [512, 256, 128])
    encoder: str = "mlp"              # mlp | residual (RQ-KMeans+)
    loss: str = "mse"                 # mse | cosine
    beta: float = 0.25
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 1024
    max_epochs: int = 3000
    eval_every: int = 25
    patience: int = 20
    max_seconds: float | None = 150.0  # None: no time limit (paper-scale runs)
    restart_dead_every: int = 10      # epochs; 0 disables dead-code restarts
    # Per level: 0 = nearest code; > 0 = Sinkhorn-balanced assignment with this entropy (MiniOneRec uses
    # [0, 0, 0.003]): codes are spread evenly over the batch, the main lever against collisions.
    sinkhorn_epsilon: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.003])
    sinkhorn_iters: int = 20
    level_loss: str = "sum"           # sum | mean of the per-level codebook losses (TIGER sums; LETTER, MiniOneRec mean)
    # LETTER: loss = recon + level_loss(codebook_l + beta commit_l + diversity_weight div_l) + collaborative_weight cf
    collaborative_weight: float = 0.0
    diversity_weight: float = 0.0
    diversity_clusters: int = 10
    diversity_recluster_every: int = 1    # epochs (LETTER: 1); balanced k-means of every codebook, ~0.4 s each on CPU
    seed: int = 42

    def __post_init__(self) -> None:
        if self.level_loss not in ("sum", "mean"):
            raise GenrecError(f"level_loss must be sum or mean, not {self.level_loss!r}", key="params.level_loss")


def mlp(sizes: list[int], last_zero: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if last_zero:
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
    return nn.Sequential(*layers)


class ResidualEncoder(nn.Module):
    """z = P(x) + MLP(x), the MLP's last layer zero-initialised, so training starts exactly at P(x).

    P is the identity (RQ-KMeans+ as published, z = x + MLP(x)) or, when the latent is smaller than the
    input, a fixed PCA projection (centred): the k-means warm start then lives in that PCA space.
    """

    def __init__(self, in_dim: int, hidden: list[int], projection: np.ndarray | None = None,
                 mean: np.ndarray | None = None):
        super().__init__()
        out_dim = in_dim if projection is None else projection.shape[0]
        self.mlp = mlp([in_dim, *hidden, out_dim], last_zero=True)
        self.register_buffer("projection", None if projection is None else torch.as_tensor(projection, dtype=torch.float32))
        self.register_buffer("mean", None if mean is None else torch.as_tensor(mean, dtype=torch.float32))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.projection is None else (x - self.mean) @ self.projection.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(x) + self.mlp(x)


class RQVAE(nn.Module):
    def __init__(self, in_dim: int, cfg: RQVAEConfig, projection: np.ndarray | None = None,
                 mean: np.ndarray | None = None):
        super().__init__()
        self.cfg = cfg
        if cfg.encoder == "residual":
            latent = in_dim if projection is None else projection.shape[0]
            self.encoder: nn.Module = ResidualEncoder(in_dim, cfg.hidden, projection, mean)
            # A learned decoder (not identity + MLP): reconstruction must then come from the codes, which
            # keeps the encoder from collapsing items onto their centroids.
            self.decoder: nn.Module = mlp([latent, *reversed(cfg.hidden), in_dim])
        else:
            latent = cfg.latent_dim
            self.encoder = mlp([in_dim, *cfg.hidden, latent])
            self.decoder = mlp([latent, *reversed(cfg.hidden), in_dim])
        self.codebooks = nn.ParameterList(
            [nn.Parameter(torch.randn(cfg.codebook_size, latent) * 0.01) for _ in range(cfg.levels)])

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Returns quantised z (straight-through), codes, codebook+commitment loss, residual per level."""
        residual = z
        quantized = torch.zeros_like(z)
        codes, residuals = [], []
        vq_loss = z.new_zeros(())
        for level, codebook in enumerate(self.codebooks):
            residuals.append(residual)
            distances = torch.cdist(residual.detach(), codebook.detach())
            epsilon = self.cfg.sinkhorn_epsilon[level] if level < len(self.cfg.sinkhorn_epsilon) else 0.0
            idx = sinkhorn_assign(distances, epsilon, self.cfg.sinkhorn_iters) if epsilon > 0 else distances.argmin(1)
            chosen = codebook[idx]
            vq_loss = vq_loss + F.mse_loss(chosen, residual.detach()) + self.cfg.beta * F.mse_loss(residual, chosen.detach())
            chosen_st = residual + (chosen - residual).detach()
            quantized = quantized + chosen_st
            residual = residual - chosen_st.detach()
            codes.append(idx)
        return quantized, torch.stack(codes, 1), vq_loss, residuals

    def forward(self, x: torch.Tensor):
        """Reconstruction loss, codebook loss, codes, per-level residuals and the quantised latent."""
        z = self.encoder(x)
        quantized, codes, vq_loss, residuals = self.quantize(z)
        recon = self.decoder(quantized)
        if self.cfg.loss == "cosine":
            recon_loss = (1 - F.cosine_similarity(recon, x, dim=-1)).mean()
        else:
            recon_loss = F.mse_loss(recon, x)
        return recon_loss, vq_loss, codes, residuals, quantized

    def diversity_loss(self, codes: torch.Tensor, clusters: list[torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        """LETTER's code-assignment diversity, summed over levels: each item's assigned code embedding scores
        every other code by dot product and must pick a random code of its own cluster (`clusters[l]`: the
        members of each cluster of level l's codebook, -1-padded)."""
        loss = codes.new_zeros((), dtype=torch.float32)
        for level, codebook in enumerate(self.codebooks):
            assigned = codes[:, level]
            anchor = codebook[assigned]
            logits = (anchor @ codebook.T).masked_fill(F.one_hot(assigned, len(codebook)).bool(), -1e12)
            loss = loss + F.cross_entropy(logits, same_cluster_codes(assigned, clusters[level], generator))
        return loss

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic codes of all items and the squared distances of the last residuals to the last codebook.

        Encoded in chunks of the training batch size: one GEMM over all items is not bit-reproducible across
        processes on CPU, and a flipped near-tie would change an item's code between two runs.
        """
        codes, last = [], []
        for start in range(0, len(x), self.cfg.batch_size):
            _, chunk_codes, _, residuals = self.quantize(self.encoder(x[start:start + self.cfg.batch_size]))
            codes.append(chunk_codes)
            last.append(torch.cdist(residuals[-1].double(), self.codebooks[-1].double()) ** 2)
        return torch.cat(codes).numpy().astype(np.int64), torch.cat(last).numpy()


def codebook_clusters(codebook: torch.Tensor, n_clusters: int, seed: int) -> torch.Tensor:
    """Balanced k-means of a codebook's codes (LETTER's `constrained_km`, trainer.py:87-99: at least
    min(K / 2n, 10) and at most 6n codes a cluster, 10 iterations, 10 inits) -> each cluster's members as rows,
    -1-padded."""
    from k_means_constrained import KMeansConstrained

    k = len(codebook)
    size_min = min(k // (n_clusters * 2), 10)
    size_max = max(n_clusters * 6, -(-k // n_clusters))
    labels = KMeansConstrained(n_clusters=n_clusters, size_min=size_min, size_max=size_max, max_iter=10, n_init=10,
                               random_state=seed).fit_predict(codebook.detach().double().numpy())
    members = [np.flatnonzero(labels == c) for c in range(n_clusters)]
    table = np.full((k, max(len(m) for m in members)), -1, dtype=np.int64)
    for code in range(k):    # row per code: the members of its cluster
        own = members[labels[code]]
        table[code, :len(own)] = own
    return torch.from_numpy(table)


def same_cluster_codes(assigned: torch.Tensor, clusters: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each assigned code, a uniformly drawn other code of its cluster (itself when it is alone)."""
    members = clusters[assigned]                              # B x max cluster size
    sizes = (members >= 0).sum(1)
    own = (members == assigned[:, None]).long().argmax(1)
    draw = (torch.rand(len(assigned), generator=generator) * (sizes - 1).clamp(min=1)).long()
    draw = torch.where(sizes > 1, draw + (draw >= own).long(), own)
    return members.gather(1, draw[:, None]).squeeze(1)


def collaborative_loss(quantized: torch.Tensor, collaborative: torch.Tensor) -> torch.Tensor:
    """LETTER's CF loss: each quantised latent must score its own item's collaborative embedding highest among
    the batch's (raw dot products, no temperature: rqvae.py:75-80)."""
    logits = quantized @ collaborative.T
    return F.cross_entropy(logits, torch.arange(len(quantized)))


def sinkhorn_assign(distances: torch.Tensor, epsilon: float, iters: int) -> torch.Tensor:
    """Balanced assignment: the entropic transport plan between items (mass 1/n each) and codes (1/K each)
    under cost = distance rescaled to [-1, 1] (MiniOneRec's `center_distance_for_constraint`), computed in log
    space; each item takes its largest entry."""
    d = distances.double()  # float32 exp() leaves its fast path below -88; the cost spans ~-2/epsilon
    middle = (d.max() + d.min()) / 2
    cost = (d - middle) / (d.max() - middle + 1e-5)
    log_plan = -cost / epsilon
    n, k = log_plan.shape
    for _ in range(iters):      # MiniOneRec's order (rq/models/layers.py:96-104): items' mass, then codes'
        log_plan = log_plan - torch.logsumexp(log_plan, dim=1, keepdim=True) - np.log(n)
        log_plan = log_plan - torch.logsumexp(log_plan, dim=0, keepdim=True) - np.log(k)
    return log_plan.argmax(1)


def kmeans_init(model: RQVAE, x: torch.Tensor, seed: int) -> None:
    """Initialise the codebooks by residual k-means (RQ-KMeans) on the untrained latents."""
    from genrec.tokenize.rqkmeans import fit_rqkmeans

    with torch.no_grad():
        latents = model.encoder(x).numpy()
    codebooks, _ = fit_rqkmeans(latents, len(model.codebooks), [c.shape[0] for c in model.codebooks], seed)
    set_codebooks(model, codebooks)


def set_codebooks(model: RQVAE, codebooks: list[np.ndarray]) -> None:
    for codebook, centroids in zip(model.codebooks, codebooks):
        codebook.data.copy_(torch.from_numpy(np.asarray(centroids, dtype=np.float32)))


def restart_dead_codes(model: RQVAE, usage: torch.Tensor, residuals: list[torch.Tensor], generator: torch.Generator) -> int:
    """Move each code that no item used since the last restart onto a random residual of the latest batch
    at that level (the batch's residuals are bit-reproducible; a fresh pass over all items is not)."""
    restarted = 0
    with torch.no_grad():
        for level, codebook in enumerate(model.codebooks):
            dead = torch.nonzero(usage[level] == 0).flatten()
            if len(dead):
                pick = torch.randint(len(residuals[level]), (len(dead),), generator=generator)
                codebook.data[dead] = residuals[level][pick].detach()
                restarted += len(dead)
    usage.zero_()
    return restarted


def pca(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-`dim` principal directions (dim x d) and the mean; signs fixed so the result is deterministic."""
    mean = x.mean(0)
    _, _, vt = np.linalg.svd((x - mean).astype(np.float64), full_matrices=False)
    components = vt[:dim]
    components *= np.sign(components[np.arange(dim), np.abs(components).argmax(1)])[:, None]
    return components, mean


def train_rqvae(x_np: np.ndarray, cfg: RQVAEConfig, init_codebooks: list[np.ndarray] | None = None,
                projection: tuple[np.ndarray, np.ndarray] | None = None,
                collaborative: np.ndarray | None = None) -> Quantized:
    """Train and return the codes of the best-collision state. `projection` = (components, mean) of the
    residual encoder's fixed part (RQ-KMeans+ in a PCA space); `init_codebooks` warm-starts the codebooks;
    `collaborative` (items x latent_dim) are the item embeddings LETTER's collaborative loss aligns with."""
    # Codebook gradients accumulate over repeated indices (index_put); only the deterministic kernels make
    # that sum, and so the index, the same from one run to the next.
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        return _train(x_np, cfg, init_codebooks, projection, collaborative)
    finally:
        torch.use_deterministic_algorithms(was_deterministic)


def _train(x_np: np.ndarray, cfg: RQVAEConfig, init_codebooks: list[np.ndarray] | None,
           projection: tuple[np.ndarray, np.ndarray] | None, collaborative: np.ndarray | None) -> Quantized:
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    x = torch.from_numpy(np.ascontiguousarray(x_np, dtype=np.float32))
    cf = None if collaborative is None else torch.from_numpy(np.ascontiguousarray(collaborative, dtype=np.float32))
    if (cfg.collaborative_weight > 0) != (cf is not None):
        raise GenrecError("the collaborative loss needs the collaborative item embeddings, and they serve only it",
                          key="params.collaborative_weight")
    if cf is not None and cf.shape != (len(x), cfg.latent_dim):
        raise GenrecError(f"collaborative embeddings are {tuple(cf.shape)}, but the loss scores them against "
                          f"{len(x)} quantised latents of width {cfg.latent_dim}", key="params.latent_dim",
                          fix=f"set latent_dim to the baseline's hidden size ({cf.shape[1]}), as LETTER's 32 "
                              "matches its 32-d SASRec")
    level_scale = 1.0 / cfg.levels if cfg.level_loss == "mean" else 1.0
    model = RQVAE(x.shape[1], cfg, *(projection or (None, None)))
    if init_codebooks is not None:
        set_codebooks(model, init_codebooks)
    else:
        kmeans_init(model, x, cfg.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    usage = torch.zeros(cfg.levels, cfg.codebook_size)
    best = {"collision_rate": 2.0}
    evals_without_gain, restarts = 0, 0
    history = []
    started = time.perf_counter()
    bar = progress(range(1, cfg.max_epochs + 1), desc=f"train {cfg.encoder} RQ-VAE", unit=" epoch")
    for epoch in bar:
        model.train()
        if cfg.diversity_weight > 0 and (epoch - 1) % cfg.diversity_recluster_every == 0:
            clusters = [codebook_clusters(c, cfg.diversity_clusters, cfg.seed + epoch) for c in model.codebooks]
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), cfg.batch_size):
            rows = order[start:start + cfg.batch_size]
            recon_loss, vq_loss, codes, residuals, quantized = model(x[rows])
            if cfg.diversity_weight > 0:
                vq_loss = vq_loss + cfg.diversity_weight * model.diversity_loss(codes, clusters, generator)
            loss = recon_loss + level_scale * vq_loss
            if cf is not None:
                loss = loss + cfg.collaborative_weight * collaborative_loss(quantized, cf[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for level in range(cfg.levels):
                usage[level] += torch.bincount(codes[:, level], minlength=cfg.codebook_size)
        if cfg.restart_dead_every and epoch % cfg.restart_dead_every == 0 and epoch < cfg.max_epochs:
            restarts += restart_dead_codes(model, usage, residuals, generator)
        if epoch % cfg.eval_every == 0 or epoch == cfg.max_epochs:
            model.eval()
            codes_np, _ = model.encode(x)
            rate = collision_summary(codes_np)["collision_rate"]
            history.append({"epoch": epoch, "loss": round(loss.item(), 6), "recon": round(recon_loss.item(), 6),
                            "collision_rate": round(rate, 6)})
            if rate < best["collision_rate"]:
                best = {"collision_rate": rate, "epoch": epoch, "state": copy.deepcopy(model.state_dict())}
                evals_without_gain = 0
            else:
                evals_without_gain += 1
            elapsed = time.perf_counter() - started
            out_of_time = cfg.max_seconds is not None and elapsed > cfg.max_seconds
            if rate == 0.0 or evals_without_gain >= cfg.patience or out_of_time:
                break
    model.load_state_dict(best["state"])
    model.eval()
    codes_np, last = model.encode(x)
    return Quantized(codes_np, last, {
        "epochs": epoch, "best_epoch": best["epoch"], "train_seconds": round(time.perf_counter() - started, 2),
        "dead_code_restarts": restarts, "curve": history,
    }, state=model_state(model, x.shape[1]))


def model_state(model: RQVAE, in_dim: int) -> dict:
    """What rebuilds a trained RQ-VAE (`genrec.etegrec.joint.tokenizer_from_state`): its config, input width
    and weights."""
    return {"config": dataclasses.asdict(model.cfg), "in_dim": int(in_dim),
            "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()}}
