"""The parts :func:`gradflow.solve` is built from (internal).

The active rows and the one compaction rule live in :mod:`gradflow._rows` (Lanczos uses
them too).

``counting``  the counting, caching view of the problem that methods and policies see
``clock``     per-row times: exact ``t_0 + k h`` for a constant step, landing on stops
``recorder``  one recorder per save mode
``guard``     the divergence guard: sparse checks, snapshots and the replay
"""
