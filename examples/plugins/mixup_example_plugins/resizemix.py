"""ResizeMix (Qin et al., 2020), as a plugin: the partner image shrunk by tau ~ Uniform(scope) and pasted at a
uniform position; its label weighted by the area it covers. docs/plugins.md walks through it."""

import torch
import torch.nn.functional as F

from trainables import MixedBatch, MixMethod, Option, register_mix_method


@register_mix_method
class ResizeMix(MixMethod):
    name = "resizemix_example"
    display_name = "ResizeMix (example)"
    citation = "Qin et al. ResizeMix: Mixing Data with Preserved Object Information and True Labels. 2020"
    needs = frozenset({"images"})
    options = {
        "scope": Option((0.1, 0.8), low=0.0, high=1.0, doc="range tau, the pasted side, is drawn from")
    }
    off = {"scope": (0.0, 0.0)}  # nothing pasted: ERM

    def mix(self, x, y, draws):
        low, high = self.options["scope"]
        tau = low + (high - low) * float(torch.rand((), generator=draws.torch))
        n, _, h, w = x.shape
        side_h, side_w = int(round(tau * h)), int(round(tau * w))
        top = int(torch.randint(h - side_h + 1, (), generator=draws.torch))
        left = int(torch.randint(w - side_w + 1, (), generator=draws.torch))
        perm = torch.randperm(n, generator=draws.torch).to(x.device)
        mixed = x.clone()
        if side_h and side_w:
            small = F.interpolate(x[perm], size=(side_h, side_w), mode="bilinear", align_corners=False)
            mixed[:, :, top : top + side_h, left : left + side_w] = small
        return MixedBatch.pair(mixed, y, y[perm], 1 - side_h * side_w / (h * w))
