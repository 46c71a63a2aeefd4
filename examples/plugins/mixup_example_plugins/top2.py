"""A metric: a function of the logits on the unmixed test set and the labels."""

from trainables import register_metric


@register_metric("top2_error")
def top2_error(logits, labels):
    return 100.0 * float((logits.topk(2, dim=1).indices != labels[:, None]).all(1).float().mean())
