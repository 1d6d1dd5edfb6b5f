"""schemathesis (a property-based tester for OpenAPI servers that we did not write) checks the
emulator served on a loopback socket against openapi.yaml, as `st run --checks all` would: every
check it has, in every phase (examples, coverage, fuzzing, stateful), with a bounded number of
examples so that the whole run takes a few seconds.

- Credentials: as the spec says per operation (HTTP Basic on Get Token, a Bearer token
  elsewhere), for the emulator's account ("owner"). A second identity ("stranger", a token of
  a merchant account) is a peer for `object_level_authorization`: it replays the owner's reads
  and must not get the owner's clients or grants.
- Path oids are the emulator's account, so requests reach the handlers (test_emulator.py
  covers malformed and foreign oids).
- Links (added here, not in openapi.yaml: they describe how a test walks the API) let the
  stateful phase create a client, then get, rotate, delete and grant it, and delete the grant:
  `use_after_free` and `ensure_resource_availability` need those sequences.
"""

from __future__ import annotations

import base64
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.auths import AuthContext
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.generation.case import Case
from schemathesis.wfc.escalation import EscalatingAuthProvider

from dintero_aio.testing import OPERATIONS, Emulator, serve

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"
ACCOUNT = "T12345678"
MERCHANT = "T00000001"  # the example of Exchange.account_id, so the examples phase exchanges
MAX_EXAMPLES = 6  # per operation and phase; the whole run takes about 10 s on 2 cores
STATEFUL = 30  # scenarios of the stateful phase, of up to MAX_STEPS requests each
MAX_STEPS = 10  # long enough to chain create client -> grant it -> delete the grant
PHASES = ("examples", "coverage", "fuzzing", "stateful")
DINTERO_OID = "^[PT]{1}(?=(?:.{3}|.{8})$)[0-9]*$"
# The same language without the lookahead, which Hypothesis cannot generate from: it draws
# strings and filters them, and the stateful phase then gives up (Unsatisfiable) at once.
OID = "^[PT](?:[0-9]{3}|[0-9]{8})$"


@dataclass
class Identity:
    """A schemathesis auth provider: Basic for Get Token (when the identity has a login: a
    merchant account has none), Bearer for everything else; counts how often it was asked."""

    basic: tuple[str, str] | None
    bearer: str
    used: int = 0

    def get(self, case: Case, context: AuthContext) -> str:
        self.used += 1
        if case.operation.path.endswith("/token") and self.basic is not None:
            user, secret = self.basic
            return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
        return f"Bearer {self.bearer}"

    def set(self, case: Case, data: str, context: AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@dataclass
class Outcome:
    emulator: Emulator
    stranger: Identity
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)
    checks_run: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    phases: dict[str, Status] = field(default_factory=dict)


def spec_with_links() -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")))
    for name in ("oid", "partner_id"):
        parameter = spec["components"]["parameters"][name]["schema"]
        assert parameter["pattern"] == DINTERO_OID
        parameter["pattern"] = OID
    paths = spec["paths"]
    by_id = {"path.id": "$response.body#/id"}
    created = paths["/accounts/{oid}/auth/clients"]["post"]["responses"]["200"]
    created["links"] = {
        "GetClient": {"operationId": "aid_auths_clients_id_get", "parameters": by_id},
        "RotateSecret": {"operationId": "aid_auths_clients_id_rotate_post", "parameters": by_id},
        "DeleteClient": {"operationId": "aid_auths_clients_id_delete", "parameters": by_id},
        "GrantClient": {
            "operationId": "aid_auths_client_grants_post",
            "requestBody": {"client_id": "$response.body#/id"},  # merged into a generated body
        },
    }
    granted = paths["/accounts/{oid}/auth/client-grants"]["post"]["responses"]["200"]
    granted["links"] = {
        "DeleteGrant": {"operationId": "aid_auths_client_grants_id_delete", "parameters": by_id}
    }
    return spec


def token(http: httpx.Client, path: str, **kwargs: Any) -> str:
    response = http.post(path, **kwargs)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def outcome() -> Outcome:
    """One schemathesis run against a served emulator, shared by the tests below."""
    emulator = Emulator(account_id=ACCOUNT, merchants=[MERCHANT])
    with serve(emulator) as running, httpx.Client(base_url=running.base_url, timeout=5) as http:
        root = (emulator.client_id, emulator.client_secret)
        login = {"grant_type": "client_credentials", "audience": emulator.audience}
        owner_token = token(http, f"/accounts/{ACCOUNT}/auth/token", auth=root, json=login)
        merchant_token = token(
            http,
            f"/accounts/{ACCOUNT}/auth/exchange_token",
            headers={"Authorization": f"Bearer {owner_token}"},
            json={"account_id": MERCHANT},
        )
        owner, stranger = Identity(root, owner_token), Identity(None, merchant_token)
        config = SchemathesisConfig.from_dict(
            {
                "base-url": running.base_url,
                # A fixed seed: unseeded, the stateful phase drew different steps each run and
                # in about one run in four made no grant it could delete (the coverage test
                # below then failed). This seed reaches every operation.
                "seed": 42,
                "checks": {"enabled": True, "max_response_time": 5.0},  # all of them
                "phases": {
                    **{phase: {"enabled": True} for phase in PHASES},
                    "stateful": {
                        "enabled": True,
                        "generation": {"max-examples": STATEFUL},
                        "max-steps": MAX_STEPS,
                    },
                },
                "generation": {
                    "max-examples": MAX_EXAMPLES,
                    "deterministic": True,  # the same requests every run: reproducible
                    "database": "none",
                },
                "parameters": {"oid": ACCOUNT, "partner_id": ACCOUNT},
            }
        )
        schema = schemathesis.openapi.from_dict(spec_with_links(), config=config)
        # Two identities that must not see each other's objects: what `[auth.wfc] peers`
        # configures, built from our own providers because the spec's auth differs per
        # operation (Basic on Get Token), which a WFC identity cannot express. Pinned to the
        # owner: the stranger only replays the owner's reads.
        schema.auth.providers.append(
            EscalatingAuthProvider(
                [owner, stranger],
                ["owner", "stranger"],
                peers=("owner", "stranger"),
                pinned="owner",
            )
        )
        result = Outcome(emulator, stranger)
        for event in from_schema(schema).execute():
            record(result, event)
    return result


def record(result: Outcome, event: events.EngineEvent) -> None:
    if isinstance(event, events.PhaseFinished):
        result.phases[event.phase.name.value] = event.status
    elif isinstance(event, events.ScenarioFinished):
        label = event.label or "stateful"  # a stateful scenario spans operations
        for checks in event.recorder.checks.values():
            for check in checks:
                result.checks_run.add(check.name)
                if check.status == Status.FAILURE and check.failure_info is not None:
                    failure = check.failure_info.failure
                    key = (label, check.name, failure.title)
                    result.failures.setdefault(
                        key, f"{failure.message}\n{check.failure_info.code_sample}"
                    )
    elif isinstance(event, events.NonFatalError):
        result.errors.append(f"{event.label}: {event.value!r}")
    elif isinstance(event, events.FatalError):
        result.errors.append(repr(event.exception))


def test_every_check_passes_in_every_phase(outcome: Outcome) -> None:
    report = "\n\n".join(f"{key}:\n{text}" for key, text in outcome.failures.items())
    assert not outcome.failures, report
    assert outcome.errors == []
    assert {phase: outcome.phases.get(phase) for phase in PHASES} == dict.fromkeys(
        PHASES, Status.SUCCESS
    )


def test_every_check_schemathesis_has_ran(outcome: Outcome) -> None:
    assert outcome.checks_run == {*CHECKS.get_all_names(), "max_response_time"}


def test_the_generated_requests_reached_the_handlers(outcome: Outcome) -> None:
    emulator = outcome.emulator
    counts = {op: (emulator.received(op), emulator.processed(op)) for op in OPERATIONS}
    assert all(processed > 0 for _, processed in counts.values()), str(counts)


def test_the_stranger_replayed_the_owner_s_reads(outcome: Outcome) -> None:
    """object_level_authorization ran: the second identity was asked for credentials."""
    assert outcome.stranger.used > 0


@given(st.text(alphabet="PTX0123456789a\n", max_size=11))
def test_the_generatable_oid_pattern_is_dintero_s(text: str) -> None:
    assert bool(re.search(OID, text)) == bool(re.search(DINTERO_OID, text))
