"""Residual k-means (RQ-KMeans) with faiss: level l clusters the residuals left by levels < l.

faiss-cpu here, faiss-gpu on clusters (same API; `use_gpu` when the GPU build is installed).
"""

from __future__ import annotations

import numpy as np

from genrec.tokenize.quantized import Quantized, squared_distances


def faiss_has_gpu() -> bool:
    import faiss

    return hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0


def kmeans_faiss(points: np.ndarray, k: int, seed: int, niter: int = 20, use_gpu: bool | None = None) -> np.ndarray:
    """Centroids (k x d) of plain k-means; deterministic for a given seed and thread count.
    `use_gpu=None` uses the GPU when the faiss-gpu build is installed and sees one."""
    import faiss

    if use_gpu is None:
        use_gpu = faiss_has_gpu()
    km = faiss.Kmeans(points.shape[1], k, niter=niter, seed=seed, verbose=False, gpu=use_gpu,
                      min_points_per_centroid=1, max_points_per_centroid=max(256, -(-len(points) // k)))
    km.train(np.ascontiguousarray(points, dtype=np.float32))
    return km.centroids.copy()


def assign(points: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distances = squared_distances(points, centroids)
    return distances.argmin(1), distances


def fit_rqkmeans(x: np.ndarray, levels: int, codebook_size: int | list[int], seed: int, niter: int = 20,
                 use_gpu: bool | None = None) -> tuple[list[np.ndarray], Quantized]:
    """Fit level by level on the residuals and assign as it goes (residuals kept in float64)."""
    sizes = codebook_size if isinstance(codebook_size, list) else [codebook_size] * levels
    residual = x.astype(np.float64)
    codebooks, codes = [], []
    distances = None
    for level, k in enumerate(sizes):
        centroids = kmeans_faiss(residual.astype(np.float32), k, seed + level, niter, use_gpu)
        idx, distances = assign(residual, centroids)
        residual = residual - centroids[idx]
        codebooks.append(centroids)
        codes.append(idx)
    info = {"niter": niter, "gpu": bool(faiss_has_gpu() if use_gpu is None else use_gpu),
            "reconstruction_mse": float((residual ** 2).sum(1).mean())}
    return codebooks, Quantized(np.column_stack(codes).astype(np.int64), distances, info)
