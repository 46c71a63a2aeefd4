"""Manifold Mixup (Verma et al., ICML 2019): mixup of hidden states at a layer drawn per batch.

Per batch, one of the input or the model's named layers (``manifold_layers()``, each model family's own
list) is drawn uniformly; the batch is mixed there with mixup's lambda and partners, and the loss is
mixup's. At the input it is mixup.
"""

from __future__ import annotations

from torch import Tensor

from ..errors import ConfigError
from ._functional import blend, pair_draws
from ._protocol import Draws, MixedBatch, MixMethod
from ._registry import register_mix_method


@register_mix_method
class ManifoldMixup(MixMethod):
    name = "manifold_mixup"
    display_name = "Manifold Mixup"
    citation = (
        "Verma, Lamb, Beckham, Najafi, Mitliagkas, Lopez-Paz, Bengio. Manifold Mixup: Better Representations "
        "by Interpolating Hidden States. ICML 2019"
    )
    needs = frozenset({"hidden_states"})
    uses = ("alpha", "lambda_per")
    off = {"alpha": 0.0}

    def setup(self) -> None:
        if self.mixes_in(self.config) and not self.context.layers:
            raise ConfigError(
                "mix_method", f"manifold_mixup: model {self.config.model!r} names no layers to mix at"
            )

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        layers = self.context.layers
        layer = int(draws.numpy.integers(len(layers) + 1))  # 0: the input, as mixup
        weight, perm = pair_draws(draws, self.config.alpha, self.config.lambda_per == "sample", len(x))
        perm = perm.to(x.device, non_blocking=True)
        if layer == 0:
            return MixedBatch.pair(blend(x, weight, perm), y, y[perm], weight)
        batch = MixedBatch.pair(x, y, y[perm], weight)
        batch.hidden = (layers[layer - 1], lambda h: blend(h, weight, perm))
        return batch
