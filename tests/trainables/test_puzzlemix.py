"""PuzzleMix (issue 30): its mask held to the minimum of the authors' energy written out here and found by
brute force, and to the authors' own call of gco; its transport and block moves to loops written from the
authors' definitions; the saliency pass to its contract (eval mode, no parameter touched); a batch's
pixels and weights; and ``mixup-tune check``."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainables import ConfigError
from trainables.conformance import check_method, method_config
from trainables.mixing import Draws, build_mix_method
from trainables.mixing._protocol import MixContext
from trainables.mixing._puzzle_parts import (
    block_saliency,
    cut_mask,
    graph_terms,
    label_prior,
    move_blocks,
    transport_plan,
)
from trainables.mixing.puzzlemix import candidate_blocks, input_saliency, puzzle_mix
from trainables.models import build_model

if os.environ.get("MIXUP_TUNE_REQUIRE_GCO"):  # CI: the extra must be there, never skipped
    import gco
else:
    gco = pytest.importorskip("gco", reason="the puzzlemix extra: pip install 'mixup-tune[puzzlemix]'")


def _edge_data(own: np.ndarray, partner: np.ndarray, blocks: int, k: int, weight: float):  # type: ignore[no-untyped-def]
    """D[a][b] per edge, written out: weight times the mean over the edge's pooled pixels (and channels) of
    |the last row (column) of the first block's image a - the first row (column) of the next block's image
    b|, images 0: the partner, 1: the own image.
    Returns vertical edges (n - 1, n) and horizontal (n, n - 1)."""
    images = (partner, own)
    down = np.zeros((2, 2, blocks - 1, blocks))
    right = np.zeros((2, 2, blocks, blocks - 1))
    for a, b in itertools.product((0, 1), (0, 1)):
        for r in range(blocks):
            for c in range(blocks):
                span = slice(c * k, (c + 1) * k)
                if r < blocks - 1:
                    last, first = (r + 1) * k - 1, (r + 1) * k
                    down[a, b, r, c] = (
                        weight * np.abs(images[a][:, last, span] - images[b][:, first, span]).mean()
                    )
                span = slice(r * k, (r + 1) * k)
                if c < blocks - 1:
                    last, first = (c + 1) * k - 1, (c + 1) * k
                    right[a, b, r, c] = (
                        weight * np.abs(images[a][:, span, last] - images[b][:, span, first]).mean()
                    )
    return down, right


def _energies(shares: np.ndarray, own_sal, partner_sal, down, right, prior, beta: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Each labelling's energy (``shares``: (L, n, n), binary), from the definition: each block pays the
    saliency it hides (the partner's where it shows the own image) and the prior of its label; each edge
    beta' (share difference)^2 plus the data term of the two images it joins."""
    m = shares.astype(int)
    labels = len(prior) - 1
    blocks = m * partner_sal + (1 - m) * own_sal + prior[(1 - m) * labels]
    upper, lower, left, rightward = m[:, :-1, :], m[:, 1:, :], m[:, :, :-1], m[:, :, 1:]
    rows, cols = np.indices(down.shape[-2:]), np.indices(right.shape[-2:])
    vertical = beta * (upper - lower) ** 2 + down[upper, lower, rows[0], rows[1]]
    horizontal = beta * (left - rightward) ** 2 + right[left, rightward, cols[0], cols[1]]
    return blocks.sum((1, 2)) + vertical.sum((1, 2)) + horizontal.sum((1, 2))


def _two_label_case(seed: int):  # type: ignore[no-untyped-def]
    """Our mask, and every 4 x 4 two-label labelling's energy from the definition, for one random case.

    A smaller beta and larger gamma than the authors' (1.2 / 64, 0.5), so that the saliency and the seam's
    data term both decide blocks (the authors' terms make most such small masks one label); smooth
    pictures, so that across an edge an image continues itself and differs from the other."""
    blocks, side, beta, gamma, eta = 4, 16, 0.003, 10.0, 0.2
    generator = torch.Generator().manual_seed(seed)
    lam = float(torch.rand((), generator=generator)) * 0.4 + 0.3
    coarse = torch.rand(2, 3, 3, 3, generator=generator)
    pixels = F.interpolate(coarse, size=side, mode="bilinear", align_corners=True)
    saliency = block_saliency(torch.rand(2, side, side, generator=generator) ** 4, side // blocks)
    terms = graph_terms(saliency, pixels, torch.tensor([1, 0]), blocks, beta, gamma, 1)
    partner_cost, own_cost, rows, cols = (t.numpy() for t in terms)
    share = cut_mask(partner_cost[0], own_cost[0], rows[0], cols[0], lam, beta, eta, 2)
    down, right = _edge_data(pixels[0].numpy(), pixels[1].numpy(), blocks, side // blocks, beta * gamma)
    prior = eta * -np.log(np.array([lam, 1 - lam]) + 1e-8) / blocks**2  # label 0 shows the own image
    every = np.array(list(itertools.product((0, 1), repeat=blocks**2))).reshape(-1, blocks, blocks)
    own_sal, partner_sal = saliency[0].numpy(), saliency[1].numpy()
    energies = _energies(every, own_sal, partner_sal, down, right, prior, beta)
    # the int32 energy truncates each of its n^2 + 2 n (n - 1) terms by less than 1 / (1000 n^2)
    rounding = (blocks**2 + 2 * blocks * (blocks - 1)) / (1000 * blocks**2)
    return share, every, energies, rounding


def test_a_two_label_mask_is_the_minimum_of_the_authors_energy_over_every_labelling() -> None:
    """Two labels make the swap one exact graph cut: its mask is the energy's minimum over all 2^16."""
    clear = 0
    for seed in range(24):
        share, every, energies, rounding = _two_label_case(seed)
        best, second = np.sort(energies)[:2]
        mask_energy = energies[(every == share[None]).all((1, 2))]
        assert len(mask_energy) == 1 and mask_energy[0] == pytest.approx(best, abs=rounding)
        if second - best > 2 * rounding and 0 < share.mean() < 1:  # a clear, mixed minimum: the mask is it
            np.testing.assert_array_equal(share, every[energies.argmin()])
            clear += 1
    assert clear >= 4


def test_the_mask_equals_the_authors_float_call_of_gco_where_it_does_not_wrap() -> None:
    """The authors pass the label cost as float32, so gco-wrapper multiplies the energy by 10^5 in int32;
    ours goes in as integers. Where theirs does not overflow, the masks are the same."""
    for seed in range(6):
        rng = np.random.default_rng(seed)
        blocks, labels, lam, beta, eta = 8, 3, float(rng.beta(1, 1)), 1.2 / 8 / 16, 0.2
        own, partner = (
            rng.dirichlet(np.ones(blocks**2)).reshape(blocks, blocks).astype(np.float32) for _ in range(2)
        )
        rows = (rng.random((blocks - 1, blocks)) * 0.01).astype(np.float32)
        cols = (rng.random((blocks, blocks - 1)) * 0.01).astype(np.float32)
        ours = cut_mask(partner, own, rows, cols, lam, beta, eta, labels)
        scale = 1000 * blocks**2
        prior = label_prior(lam, labels, blocks, eta)
        shares = np.linspace(0, 1, labels)
        unary = (
            scale * np.stack([(1 - s) * partner + s * own + prior[i] for i, s in enumerate(shares)], -1)
        ).astype(np.int32)
        assert unary.max() * 100_000 < 2**31  # no wrap in their float path
        label_cost = np.array(
            [[(i - j) ** 2 / (labels - 1) ** 2 for j in range(labels)] for i in range(labels)], np.float32
        )
        theirs = gco.cut_grid_graph(
            unary,
            label_cost,
            (scale * (rows + beta)).astype(np.int32),
            (scale * (cols + beta)).astype(np.int32),
            algorithm="swap",
        )
        np.testing.assert_array_equal(ours, (1.0 - theirs / (labels - 1)).reshape(blocks, blocks))


def _greedy_plan(mask: np.ndarray, saliency: np.ndarray, eps: float) -> np.ndarray:
    """The authors' transport for one image, with loops: n rounds in which each block picks its cheapest
    position, each position's cheapest picker wins (the minimum taken over every block, a block that did not
    pick it counting 0: the first such wins nothing), and the losers' costs there rise by one."""
    n = mask.shape[0]
    positions = [(i // n, i % n) for i in range(n * n)]
    squared = np.array([[(a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 for b in positions] for a in positions])
    distance = squared.astype(np.float32) / np.float32((n - 1) ** 2)  # in float32, as the tensors are
    visible = (mask.flatten() > 0).astype(np.float32)
    cost = eps * distance - saliency.flatten()[:, None].astype(np.float32) * visible[None, :]
    win = np.zeros_like(cost)
    for _ in range(n):
        picks = cost.argmin(1)
        win = np.zeros_like(cost)
        for j in range(n * n):
            values = [cost[i, j] if picks[i] == j else 0.0 for i in range(n * n)]
            first = int(np.argmin(values))
            if picks[first] == j:
                win[first, j] = 1
        for i in range(n * n):
            if win[i, picks[i]] == 0:
                cost[i, picks[i]] += 1
    return win


def _authors_dense_plan(mask: torch.Tensor, saliency: torch.Tensor, eps: float) -> torch.Tensor:
    """The authors' ``mask_transport`` as they write it: three dense (N, n^2, n^2) plans a round."""
    n = mask.shape[-1]
    positions = torch.arange(n * n)
    rows, cols = positions // n, positions % n
    distance = ((rows[:, None] - rows) ** 2 + (cols[:, None] - cols) ** 2).float() / (n - 1) ** 2
    cost = eps * distance - saliency.reshape(-1, n * n, 1) * (mask > 0).float().reshape(-1, 1, n * n)
    win = torch.zeros_like(cost)
    for _ in range(n):
        plan = torch.zeros_like(cost).scatter_(-1, cost.min(-1)[1].unsqueeze(-1), 1)
        win = torch.zeros_like(cost).scatter_(-2, (plan * cost).min(-2)[1].unsqueeze(-2), 1) * plan
        cost += (1 - win) * plan
    return win


def test_the_transport_plan_equals_the_authors_dense_rounds_ties_included() -> None:
    """Masks from all-hidden (every block's own position costs exactly 0: ties) to mostly shown."""
    generator = torch.Generator().manual_seed(5)
    for blocks, shown, eps in itertools.product((4, 16), (0.0, 0.2, 0.5, 0.9), (0.01, 0.8, 5.0)):
        mask = (torch.rand(8, 1, blocks, blocks, generator=generator) < shown).float()
        saliency = block_saliency(torch.rand(8, 32, 32, generator=generator) ** 3, 32 // blocks)
        assert torch.equal(transport_plan(mask, saliency, eps), _authors_dense_plan(mask, saliency, eps))


def test_the_transport_plan_and_the_block_moves_equal_loops_written_from_the_definition() -> None:
    generator = torch.Generator().manual_seed(3)
    for blocks in (2, 4, 8):
        mask = (torch.rand(3, 1, blocks, blocks, generator=generator) > 0.4).float()
        saliency = block_saliency(torch.rand(3, 16, 16, generator=generator) ** 3, 16 // blocks)
        plan = transport_plan(mask, saliency, 0.8)
        for i in range(3):
            np.testing.assert_array_equal(
                plan[i].numpy(), _greedy_plan(mask[i, 0].numpy(), saliency[i].numpy(), 0.8)
            )
        images = torch.rand(3, 2, 16, 16, generator=generator)
        moved = move_blocks(images, plan, blocks)
        size = 16 // blocks
        for i, (src, dst) in itertools.product(range(3), itertools.product(range(blocks**2), repeat=2)):
            if plan[i, src, dst]:
                (sr, sc), (dr, dc) = divmod(src, blocks), divmod(dst, blocks)
                torch.testing.assert_close(
                    moved[i, :, dr * size : (dr + 1) * size, dc * size : (dc + 1) * size],
                    images[i, :, sr * size : (sr + 1) * size, sc * size : (sc + 1) * size],
                )
        unfilled = plan.sum(1) == 0  # positions no block won stay zero
        for i, dst in zip(*torch.nonzero(unfilled, as_tuple=True)):
            dr, dc = divmod(int(dst), blocks)
            assert moved[i, :, dr * size : (dr + 1) * size, dc * size : (dc + 1) * size].abs().sum() == 0


def test_the_saliency_pass_is_the_input_gradient_in_eval_mode_and_touches_no_parameter() -> None:
    torch.manual_seed(0)
    model = build_model("cnn", (3, 16, 16), 5, (8,), dropout=0.5).train()
    x, y = torch.randn(6, 3, 16, 16), torch.randint(5, (6,))
    buffers = {name: value.clone() for name, value in model.named_buffers()}
    saliency = input_saliency(model, x, y)
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(buffers[name], value) for name, value in model.named_buffers())
    model.eval()
    inputs = x.clone().requires_grad_(True)
    F.cross_entropy(model(inputs), y).backward()
    torch.testing.assert_close(saliency, inputs.grad.pow(2).mean(1).sqrt())  # type: ignore[union-attr]


@pytest.mark.parametrize("transport", [False, True])
def test_a_batch_shows_each_pixel_of_the_own_image_or_its_partner_in_the_masks_share(transport: bool) -> None:
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(4, 3, 16, 16, generator=generator)
    perm = torch.tensor([2, 3, 0, 1])
    options = {"n_labels": 2, "beta": 1.2, "gamma": 0.5, "eta": 0.2, "neigh_size": 4, "transport": transport,
               "t_eps": 0.8, "t_size": -1}  # fmt: skip
    saliency = torch.rand(4, 16, 16, generator=generator)
    mixed, share = puzzle_mix(x, x, saliency, perm, 4, 0.5, options)
    own = (mixed == x).all(1)
    partner = (mixed == x[perm]).all(1)
    if not transport:
        assert (own | partner).all()
        torch.testing.assert_close(share, own.float().flatten(1).mean(1))
    assert ((share >= 0) & (share <= 1)).all() and (share < 1).any()


def test_blocks_are_drawn_from_the_authors_sizes_that_divide_the_side() -> None:
    assert candidate_blocks(32, 32) == [2, 4, 8, 16]
    assert candidate_blocks(28, 28) == [2, 4]
    method = build_mix_method(
        method_config("puzzlemix"),
        MixContext(5, torch.device("cpu"), 64, model=build_model("cnn", (3, 9, 9), 5, (8,)),
                   normalisation=(torch.zeros(3, 1, 1), torch.ones(3, 1, 1))),
    )  # fmt: skip
    with pytest.raises(ConfigError, match="square images of an even side; got 9x9"):
        method.mix(torch.rand(2, 3, 9, 9), torch.tensor([0, 1]), Draws(0))


def test_puzzlemix_without_gco_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "gco", None)
    with pytest.raises(ConfigError, match=r"pip install 'mixup-tune\[puzzlemix\]'"):
        method_config("puzzlemix")


def test_puzzlemix_passes_every_check() -> None:
    _, checks = check_method("puzzlemix")
    assert [c.line() for c in checks if c.passed is False] == []
    assert {c.name for c in checks if c.passed} >= {"seeded", "resume", "resume in a trial", "off", "data"}
