"""PuzzleMix's parts (Kim, Choo, Song, ICML 2020), as the authors' code (snu-mllab/PuzzleMix @ e2dbf3a,
``mixup.py``) computes them: the block saliency, the graph-cut mask over blocks, and the transport of
salient blocks. ``puzzlemix`` puts them together; ``tests/trainables/test_puzzlemix.py`` holds each to a
reference written from the authors' definitions.

Sizes are the authors' on 32 x 32 images (blocks of 16, 8, 4 or 2 pixels, all powers of two). On other
sides a neighbourhood or transport size that does not divide the block is replaced by one that does
(``divisor_at_most``), where the authors' arrays would not line up.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-8  # the authors' eps inside the prior's logarithm


def divisor_at_most(size: int, limit: int) -> int:
    """The largest divisor of ``size`` that is at most ``limit`` (``limit`` itself where it divides)."""
    return max(d for d in range(1, min(size, limit) + 1) if size % d == 0)


def block_saliency(saliency: Tensor, block: int) -> Tensor:
    """(N, H, W) pixel saliency to (N, H / block, W / block) block saliency, each image's summing to 1."""
    pooled = F.avg_pool2d(saliency[:, None], block)[:, 0]
    return pooled / pooled.flatten(1).sum(1).view(-1, 1, 1)


def _edge_penalty(first: Tensor, second: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The mean absolute difference between ``first`` and ``second`` across each block edge: rows (vertical
    neighbours) then columns, on images pooled by the neighbourhood, ``k`` pooled pixels per block."""
    rows = (first[:, :, :-1, :] - second[:, :, 1:, :])[:, :, k - 1 :: k, :]
    cols = (first[:, :, :, :-1] - second[:, :, :, 1:])[:, :, :, k - 1 :: k]
    return (
        F.avg_pool2d(rows.abs().mean(1), kernel_size=(1, k)),
        F.avg_pool2d(cols.abs().mean(1), kernel_size=(k, 1)),
    )


def graph_terms(
    unary_own: Tensor, pixels: Tensor, perm: Tensor, blocks: int, beta: float, gamma: float, neigh: int
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The authors' terms of the labelling problem, per image: the partner's and the own image's unary
    costs (N, n, n), with half of each edge's data term folded in, and the edge weights across rows (N, n - 1,
    n) and columns (N, n, n - 1). ``pixels`` is the batch in [0, 1]; ``beta`` is already divided by n * 16."""
    block = pixels.shape[-1] // blocks
    k = block // neigh
    own = F.avg_pool2d(pixels, neigh)
    partner = own[perm]
    # [a][b]: the edge's data term when its upper / left block shows image a and its lower / right one b
    # (0: the partner, 1: the own image), as the authors index them
    pairs = {(a, b): _edge_penalty((partner, own)[a], (partner, own)[b], k) for a in (0, 1) for b in (0, 1)}
    rows = {key: beta * gamma * value[0] for key, value in pairs.items()}
    cols = {key: beta * gamma * value[1] for key, value in pairs.items()}
    unary_partner, unary_own = unary_own[perm].clone(), unary_own.clone()
    unary_partner[:, :-1, :] += (rows[1, 0] + rows[1, 1]) / 2
    unary_own[:, :-1, :] += (rows[0, 1] + rows[0, 0]) / 2
    unary_partner[:, 1:, :] += (rows[0, 1] + rows[1, 1]) / 2
    unary_own[:, 1:, :] += (rows[1, 0] + rows[0, 0]) / 2
    unary_partner[:, :, :-1] += (cols[1, 0] + cols[1, 1]) / 2
    unary_own[:, :, :-1] += (cols[0, 1] + cols[0, 0]) / 2
    unary_partner[:, :, 1:] += (cols[0, 1] + cols[1, 1]) / 2
    unary_own[:, :, 1:] += (cols[1, 0] + cols[0, 0]) / 2
    edge_rows = (rows[1, 0] + rows[0, 1] - rows[1, 1] - rows[0, 0]) / 2
    edge_cols = (cols[1, 0] + cols[0, 1] - cols[1, 1] - cols[0, 0]) / 2
    return unary_partner, unary_own, edge_rows, edge_cols


def label_prior(lam: float, labels: int, blocks: int, eta: float) -> np.ndarray:
    """eta / n^2 times the negative log of the Binomial(labels - 1, lam) pmf of each label (label l: the
    own image's share 1 - l / (labels - 1)), the authors' ``prior``."""
    last = labels - 1
    pmf = [math.comb(last, k) * lam ** (last - k) * (1 - lam) ** k for k in range(labels)]
    return eta * -np.log(np.array(pmf) + EPS) / blocks**2


def cut_mask(
    unary_partner: np.ndarray,
    unary_own: np.ndarray,
    edge_rows: np.ndarray,
    edge_cols: np.ndarray,
    lam: float,
    beta: float,
    eta: float,
    labels: int,
) -> np.ndarray:
    """One image's (n, n) mask, the own image's share per block, by alpha-beta swap (``gco``).

    The authors' energy, scaled by 1000 n^2 and cast to int32, with the label cost (i - j)^2 / (L - 1)^2.
    They pass that cost as float32, which makes gco-wrapper treat the whole energy as float and multiply the
    int32 unaries again by 10^5 in int32, which wraps for a block holding over about 8% of an image's
    saliency at n = 16. Here the same energy goes in as integers, times (L - 1)^2 so that the label cost is
    one: proportional to theirs where theirs does not wrap, so the swap moves are the same."""
    import gco  # the puzzlemix extra; PuzzleMix.check_config refuses a trial without it

    blocks = unary_own.shape[0]
    scale = 1000 * blocks**2
    prior = label_prior(lam, labels, blocks, eta)
    shares = np.linspace(0, 1, labels)
    unary = np.stack(
        [(1 - s) * unary_partner + s * unary_own + prior[i] for i, s in enumerate(shares)], axis=-1
    )
    last = labels - 1
    unary_cost = (scale * unary).astype(np.int32) * np.int32(last**2)
    label_cost = np.array([[(i - j) ** 2 for j in range(labels)] for i in range(labels)], dtype=np.int32)
    rows = (scale * (edge_rows + beta)).astype(np.int32)
    cols = (scale * (edge_cols + beta)).astype(np.int32)
    chosen = gco.cut_grid_graph(unary_cost, label_cost, rows, cols, algorithm="swap")
    return (1.0 - chosen / last).reshape(blocks, blocks)


@lru_cache(maxsize=8)
def _grid_distances(blocks: int) -> Tensor:
    """The authors' transport cost between blocks: squared grid distance over (n - 1)^2, (n^2, n^2)."""
    rows, cols = (
        torch.div(torch.arange(blocks**2), blocks, rounding_mode="floor"),
        torch.arange(blocks**2) % blocks,
    )
    squared = (rows[:, None] - rows[None, :]) ** 2 + (cols[:, None] - cols[None, :]) ** 2
    return squared.float() / (blocks - 1) ** 2


def transport_plan(mask: Tensor, saliency: Tensor, eps: float) -> Tensor:
    """The authors' greedy transport, n rounds: each block goes to the position that costs least (eps times
    the distance, less its saliency where the mask shows it); where several go to one position the cheapest
    wins and the others pay one more next round. Returns the winners, (N, n^2 from, n^2 to), 0/1.

    Their rounds build three dense (N, n^2, n^2) plans each; this keeps each block's choice as an index and
    settles each position among its claimants alone, with their tie rules: a position's winner is the first
    block at the least of (its cost for a claimant, 0 for any other block), so that it has none when that
    first block did not claim it. Equal to their form (``tests/trainables/test_puzzlemix.py``), and about 5x
    faster at n = 16 on 2 CPU cores (0.5 against 2.7 s for a batch of 128)."""
    blocks = mask.shape[-1]
    count = blocks**2
    visible = (mask > 0).float().reshape(-1, 1, count)
    cost = eps * _grid_distances(blocks).to(mask.device) - saliency.reshape(-1, count, 1) * visible
    rows = torch.arange(count, device=cost.device).expand(len(cost), count)
    for _ in range(blocks):
        choice = cost.argmin(-1)  # (N, n^2): each block's position
        claim = cost.gather(-1, choice[..., None])[..., 0]  # its cost there
        wins = _claims_won(choice, claim, rows, count)
        cost.scatter_add_(-1, choice[..., None], (~wins).to(cost.dtype)[..., None])
    return torch.zeros_like(cost).scatter_(-1, choice[..., None], wins.to(cost.dtype)[..., None])


def _claims_won(choice: Tensor, claim: Tensor, rows: Tensor, count: int) -> Tensor:
    """Which blocks win the position they claim, by the authors' rule (see ``transport_plan``)."""
    least = torch.full_like(claim, math.inf).scatter_reduce(-1, choice, claim, "amin")  # per position
    claimants = torch.zeros_like(choice).scatter_add_(-1, choice, torch.ones_like(choice))
    has_other = claimants < count  # some block claims elsewhere, and counts 0 here
    floor = torch.where(has_other, least.clamp(max=0), least)  # the least over every block
    at_floor = claim == floor.gather(-1, choice)
    none = torch.full_like(choice, count)
    first_claimant = none.scatter_reduce(-1, choice, torch.where(at_floor, rows, none), "amin")
    first_other = torch.where(has_other & (floor == 0), _first_non_claimant(choice, count), none)
    return torch.minimum(first_claimant, first_other).gather(-1, choice) == rows


def _first_non_claimant(choice: Tensor, count: int) -> Tensor:
    """Per position, the smallest block index whose choice is another position (``count`` if none)."""
    # the first block that chose p is the first non-claimant of every other position; of position p
    # itself, the first block not choosing p is the first index i with choice[i] != p
    first = torch.where(choice[..., :1] != torch.arange(count, device=choice.device), 0, count)
    # where block 0 chose p, the first non-claimant is the first block whose choice differs from block 0's
    differs = choice != choice[..., :1]
    index = torch.where(differs, torch.arange(count, device=choice.device), count).amin(-1, keepdim=True)
    return torch.where(first == count, index.expand(-1, count), first)


def move_blocks(images: Tensor, plan: Tensor, blocks: int) -> Tensor:
    """Each block of ``images`` moved where ``plan`` (N, from, to) sends it; a position no block won stays
    zero, as in the authors' code."""
    n, c, h, w = images.shape
    bh, bw = h // blocks, w // blocks
    patches = images.reshape(n, c, blocks, bh, blocks, bw).permute(0, 1, 2, 4, 3, 5).reshape(n, c, -1, bh, bw)
    moved = torch.einsum("nij,ncixy->ncjxy", plan.to(images.dtype), patches)
    return moved.reshape(n, c, blocks, blocks, bh, bw).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)
