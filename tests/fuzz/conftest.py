"""The hypothesis profile of the fuzz tests: bounded and reproducible by default.

``GATE_FUZZ_EXAMPLES`` raises the number of examples per property (default
200; the costlier properties run a fraction of it, see
``tests.fuzz.support.examples``). Examples are derived from each test's name
(``derandomize``), so a CI failure is the same failure on every machine;
``GATE_FUZZ_RANDOM=1`` switches to random exploration for longer local runs.
Nothing is written to a ``.hypothesis`` database in the working tree.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests.fuzz.support import BASE_EXAMPLES, RANDOM_SEARCH

settings.register_profile(
    "gate-fuzz",
    max_examples=BASE_EXAMPLES,
    deadline=None,
    derandomize=not RANDOM_SEARCH,
    database=None,
    print_blob=True,
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
)
settings.load_profile("gate-fuzz")
