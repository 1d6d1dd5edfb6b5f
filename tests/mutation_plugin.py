"""A pytest plugin for the mutation run only (`-p tests.mutation_plugin`, see scripts/mutation.py).

mutmut runs, for each mutant, only the tests it saw calling the mutated function in one clean
run of the suite. A function reached only through a module-level cache (`responses._checker`
builds each type's checker once, `responses._model_checker` among them; `calls._target`) is seen
by the first test that fills the cache and by no other, so its mutants would be checked against
that one test. Emptying the caches before every test makes each test that needs them call them.
"""

from __future__ import annotations

import pytest

from dintero_aio import _calls as calls
from dintero_aio import _responses as responses


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    responses._checker.cache_clear()
    calls._target.cache_clear()
