"""mixup-tune: the studies of "mixup: Beyond Empirical Risk Minimization" as Ray Tune sweeps recorded in
MLflow.

The public entry point is the ``mixup-tune`` command (``mixup_tune.cli``).
This package's ``__init__`` imports nothing heavy, so ``analysis`` can use its
tag names without starting Ray.
"""

__version__ = "0.1.0"
