"""Step-size schedules: pure, vectorised functions of the step index.

Every schedule ``s`` is an object with ``s(k)`` for an int or an integer array ``k``
(float or float array out) and ``s.describe()`` giving its formula.  One convention
throughout:

* ``k = 0, 1, ...`` is the step index: ``s(k)`` is the step size of step ``k``
  (PyTorch's ``last_epoch = k``, optax's ``count = k``), and
  ``gradflow.solve(..., stepsize=s)`` uses ``h_k = s(k)`` for step ``k``.
* For ``0 <= k <= horizon`` values equal PyTorch's closed form for the same arguments
  (optax's for :func:`warmup_cosine`, Hugging Face's for :func:`wsd`) to rounding.
* Past the horizon a schedule holds its final value (``s.horizon``; PyTorch's and
  Hugging Face's cosines rise again there, optax and Keras hold, as here).  Periodic
  and ever-decaying schedules have ``horizon = None``.
* Composition (:func:`linear_warmup`, :func:`sequence`) evaluates a piece that starts
  at step ``b`` at ``k - b``, and the boundary step belongs to the new piece
  (optax ``join_schedules``, PyTorch ``SequentialLR``; Keras switches one step later).
  :func:`product` (also ``s * t``) multiplies schedules (PyTorch ``ChainedScheduler``),
  :func:`lambda_factor` and :func:`multiplicative` take any factor function of ``k``
  (``LambdaLR``, ``MultiplicativeLR``); :class:`gradflow.stepsize.Product` multiplies
  any policies, adaptive ones included.
* Minimum step sizes are absolute (PyTorch's ``eta_min``), not fractions of the start
  (optax's ``alpha``).
* Libraries' own schedules under their own conventions: :func:`piecewise_constant`
  (Keras), :func:`linear_onecycle` (optax), :func:`warmup_constant`,
  :func:`warmup_cosine_restarts` and :func:`warmup_polynomial` (Hugging Face, warmups from
  0); optax's ``exponent`` (:func:`cosine`, :func:`warmup_cosine`) and ``end_value``
  (:func:`exponential`); fractional epochs of :func:`cosine_restarts`
  (``steps_per_epoch``).
* Momentum schedules: ``one_cycle(...).momentum`` and ``cyclic(...).momentum`` are
  functions of ``k`` that :class:`gradflow.methods.SGD` takes as its ``momentum``
  (PyTorch's ``cycle_momentum``).
* Float parameters (step sizes, factors, rates) may be arrays: ``s(k)`` then has shape
  ``broadcast(k.shape, s.shape)``, and in :func:`gradflow.solve` ``s.shape`` must
  broadcast to the batch shape, so ``peak = np.array([...])`` with ``theta0`` of shape
  ``(n_peaks, d)`` sweeps peaks in one run.  Step counts are integers.

Where the libraries users come from disagree (warmup start, behaviour after the horizon,
whether a horizon includes the warmup, the peak of one-cycle) each function's docstring
states gradflow's choice.

:func:`gradflow.solve` refuses a step of 0, which several defaults produce at their ends
(a warmup from ``init_lr = 0``, a decay to ``min_lr = 0``): pass a positive start or floor
to run them through ``solve``.

``k`` must be an integer (``TypeError`` otherwise, even for ``3.0``) and ``>= 0``
(``ValueError``); bad arguments raise ``ValueError`` naming them.

The batch-size scaling rules :func:`linear_scaling` and :func:`sqrt_scaling` (a
:class:`ScaledStep`: step size and warmup schedule for a batch size) and
:func:`constant_decay_product` (the decoupled weight decay that goes with a decaying
schedule) live here too.
"""

from gradflow.schedules._base import Schedule, as_steps
from gradflow.schedules._combinators import linear_warmup, scale, sequence
from gradflow.schedules._cosine import cosine, cosine_restarts
from gradflow.schedules._cycles import cyclic, linear_onecycle, one_cycle
from gradflow.schedules._decay import (
    constant,
    exponential,
    inverse_time,
    linear,
    multistep,
    piecewise_constant,
    polynomial,
    step_decay,
)
from gradflow.schedules._factors import lambda_factor, multiplicative, product
from gradflow.schedules._scaling import (
    ScaledStep,
    constant_decay_product,
    linear_scaling,
    sqrt_scaling,
)
from gradflow.schedules._warmup import (
    inverse_sqrt,
    noam,
    warmup_constant,
    warmup_cosine,
    warmup_cosine_restarts,
    warmup_polynomial,
    wsd,
)

__all__ = [
    "ScaledStep",
    "Schedule",
    "as_steps",
    "constant",
    "constant_decay_product",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "inverse_sqrt",
    "inverse_time",
    "lambda_factor",
    "linear",
    "linear_onecycle",
    "linear_scaling",
    "linear_warmup",
    "multiplicative",
    "multistep",
    "noam",
    "one_cycle",
    "piecewise_constant",
    "polynomial",
    "product",
    "scale",
    "sequence",
    "sqrt_scaling",
    "step_decay",
    "warmup_constant",
    "warmup_cosine",
    "warmup_cosine_restarts",
    "warmup_polynomial",
    "wsd",
]
