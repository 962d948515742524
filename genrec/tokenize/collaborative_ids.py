"""CID: collaborative indexing (Hua et al., SIGIR-AP 2023; code Wenyueh/LLM-RecSys-ID @ 2200ad9,
CID_generation.py).

1. The item co-occurrence graph: every pair of items in a user's training sequence (no window) adds one to
   their edge (CID_generation.py:24-54).
2. Spectral clustering of the graph into N clusters (`SpectralClustering(assign_labels="cluster_qr",
   affinity="precomputed")`, :62-67); every cluster larger than M items is clustered again into N on its own
   sub-graph, down to at most 8 levels (:79-292). Leaves lie at different depths, so CIDs differ in length.
3. An item's ID is its path of tree nodes, one token per node (the original's path-prefixed `<A3><A3-5>`), then
   its rank inside its leaf (`<A0j>`, items in sequential-index order), which makes every ID unique
   (:395-450, the default `computed_{N}_{M}_CF_index.json`).

In our token format a node is numbered among the nodes of its depth and the leaf rank follows those numbers, so
a node token and a rank token never coincide. Differences from the original, in docs/fidelity.md: pair counts
are summed over both orders (the original assigns each ordered pair's count in turn, so the smaller order
overwrites the larger: OpenP5 fixes this the same way), and items that never occur in training sit in one
extra top-level cluster instead of getting their own one-token ID.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from genrec.errors import GenrecError
from genrec.progress import progress
from genrec.tokenize.quantized import Quantized
from genrec.tokenize.sequential_ids import first_appearance_order

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollaborativeParams:
    """`tokenizers.<name>.params` of method `collaborative` (the original's README: N 20, M 500)."""

    clusters: int = 20             # N: children of every split node
    max_cluster_size: int = 500    # M: a cluster with more items is split again
    max_depth: int = 8             # the original's hand-unrolled recursion stops at 8 levels
    seed: int = 0                  # SpectralClustering's random_state in the original


def cooccurrence_graph(sequences: Sequence[Sequence[int]], n_items: int) -> sparse.csr_matrix:
    """Symmetric item x item counts: for every user, each unordered pair of positions in the training sequence
    (an item against itself excluded)."""
    rows, cols = [], []
    for sequence in sequences:
        items = np.asarray(sequence, dtype=np.int64)
        first, second = np.triu_indices(len(items), k=1)
        rows.append(items[first])
        cols.append(items[second])
    a, b = np.concatenate(rows), np.concatenate(cols)
    keep = a != b
    a, b = a[keep], b[keep]
    counts = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n_items, n_items)).tocsr()
    return (counts + counts.T).tocsr()


def spectral_clusters(graph: sparse.csr_matrix, n_clusters: int, seed: int) -> np.ndarray:
    """Cluster labels of the graph's nodes (the original's SpectralClustering call)."""
    import warnings

    from sklearn.cluster import SpectralClustering

    with warnings.catch_warnings():   # "Graph is not fully connected": the original ignores it too
        warnings.simplefilter("ignore", UserWarning)
        return SpectralClustering(n_clusters=n_clusters, assign_labels="cluster_qr", random_state=seed,
                                  affinity="precomputed").fit_predict(graph)


def cluster_paths(graph: sparse.csr_matrix, nodes: np.ndarray, params: CollaborativeParams) -> dict[int, tuple]:
    """Each node's path of cluster labels, splitting every cluster larger than M again (breadth first)."""
    paths = {int(n): () for n in nodes}
    pending = [nodes]
    bar = progress(None, desc="spectral clustering", unit=" split")
    while pending:
        members = pending.pop(0)
        depth = len(paths[int(members[0])])
        if len(members) <= params.max_cluster_size or depth >= params.max_depth:
            continue
        labels = spectral_clusters(graph[members][:, members], params.clusters, params.seed + depth)
        bar.update(1)
        for label in range(params.clusters):
            child = members[labels == label]
            for node in child:
                paths[int(node)] += (label,)
            if len(child):
                pending.append(child)
    bar.close()
    return paths


def path_codes(paths: dict[int, tuple], order: np.ndarray, n_items: int) -> np.ndarray:
    """Per item: one code per node on its path (nodes numbered within their depth), then its rank inside its
    leaf, numbered after that depth's nodes (items x longest ID, -1 after a shorter one)."""
    depth = max(len(p) for p in paths.values()) + 1
    codes = np.full((n_items, depth), -1, dtype=np.int64)
    nodes_at = [sorted({p[:level + 1] for p in paths.values() if len(p) > level}) for level in range(depth)]
    number = [{node: i for i, node in enumerate(level)} for level in nodes_at]
    leaves: dict[tuple, list[int]] = {}
    for item, path in paths.items():
        leaves.setdefault(path, []).append(item)
    for path, members in leaves.items():
        for rank, item in enumerate(sorted(members, key=lambda i: order[i])):
            for level in range(len(path)):
                codes[item, level] = number[level][path[:level + 1]]
            codes[item, len(path)] = len(nodes_at[len(path)]) + rank
    return codes


def collaborative_ids(sequences: Sequence[Sequence[int]], n_items: int, params: CollaborativeParams) -> Quantized:
    """Cluster the co-occurrence graph of the users' training sequences recursively and give every item its path
    ID."""
    if params.clusters < 2 or params.max_cluster_size < params.clusters:
        raise GenrecError(f"collaborative indexing needs clusters >= 2 and max_cluster_size >= clusters (got "
                          f"{params.clusters}, {params.max_cluster_size})", key="params",
                          fix="use the original's clusters: 20, max_cluster_size: 500")
    order, _ = first_appearance_order(sequences, n_items)
    graph = cooccurrence_graph(sequences, n_items)
    in_graph = np.flatnonzero(np.asarray(graph.sum(1)).ravel() > 0)
    if len(in_graph) <= params.clusters:
        raise GenrecError(f"only {len(in_graph)} items co-occur in the training sequences, too few for "
                          f"{params.clusters} clusters", key="params.clusters", fix="use fewer clusters")
    paths = cluster_paths(graph, in_graph, params)
    cold = np.setdiff1d(np.arange(n_items), in_graph)
    paths |= {int(item): (params.clusters,) for item in cold}    # one extra top-level cluster of unseen items
    codes = path_codes(paths, order, n_items)
    leaf_sizes = Counter(paths.values())
    lengths = {str(d + 1): c for d, c in sorted(Counter(len(p) for p in paths.values()).items())}
    log.info("CID: %d leaves, largest %d items, ID lengths %s", len(leaf_sizes), max(leaf_sizes.values()), lengths)
    return Quantized(codes, None, {
        "graph_edges": int(graph.nnz // 2), "items_in_graph": int(len(in_graph)), "cold_items": int(len(cold)),
        "leaves": len(leaf_sizes), "largest_leaf": max(leaf_sizes.values()), "id_lengths": lengths})
