"""Typed aliases for the array shapes that flow through ``analysis``.

Names follow the shape they describe so that signatures read like a contract.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]

#: ``(m, m, 4)`` integer counts indexed ``[a, b, outcome]`` with ``a`` the left image's model and
#: outcomes ordered as :data:`analysis.frame.OUTCOMES` (``a``, ``b``, ``tie``, ``both_bad``).
OutcomeTensor: TypeAlias = NDArray[np.int64]

#: ``(m, m)`` matrix with ``[i, j]`` = how often model ``i`` beat model ``j`` (either side).
PairMatrix: TypeAlias = NDArray[np.float64]

#: ``(m,)`` log-strengths on the natural-log scale of Bradley–Terry.
Theta: TypeAlias = NDArray[np.float64]

#: ``(B, m)`` log-strengths, one row per bootstrap replicate.
ThetaBatch: TypeAlias = NDArray[np.float64]
