"""Residual *balanced* k-means with `k-means-constrained`: every cluster holds floor(n/K) or ceil(n/K)
items, so codes are used evenly at every level (fewer collisions than plain RQ-KMeans)."""

from __future__ import annotations

import numpy as np

from genrec.progress import progress
from genrec.tokenize.quantized import Quantized, squared_distances


def balanced_kmeans(points: np.ndarray, k: int, seed: int, max_iter: int, n_init: int) -> tuple[np.ndarray, np.ndarray]:
    """Centroids and the balanced assignment (labels) of one level."""
    from k_means_constrained import KMeansConstrained

    n = len(points)
    model = KMeansConstrained(n_clusters=k, size_min=n // k, size_max=-(-n // k), random_state=seed,
                              max_iter=max_iter, n_init=n_init, n_jobs=1)
    labels = model.fit_predict(points.astype(np.float64))
    return model.cluster_centers_.astype(np.float64), labels.astype(np.int64)


def fit_rqkmeans_constrained(x: np.ndarray, levels: int, codebook_size: int | list[int], seed: int,
                             max_iter: int = 30, n_init: int = 1) -> tuple[list[np.ndarray], Quantized]:
    sizes = codebook_size if isinstance(codebook_size, list) else [codebook_size] * levels
    residual = x.astype(np.float64)
    codebooks, codes = [], []
    for level, k in progress(list(enumerate(sizes)), desc="balanced k-means levels", unit=" level"):
        before_last = residual
        centroids, labels = balanced_kmeans(residual, k, seed + level, max_iter, n_init)
        codebooks.append(centroids)
        codes.append(labels)
        residual = residual - centroids[labels]
    # The balanced assignment is the code (nearest-centroid re-encoding would undo the balance).
    quantized = Quantized(np.column_stack(codes), squared_distances(before_last, codebooks[-1]),
                          {"max_iter": max_iter, "n_init": n_init,
                           "reconstruction_mse": float((residual ** 2).sum(1).mean())})
    return codebooks, quantized
