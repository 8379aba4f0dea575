"""Each service's NATS rights over dead letters name its own dead-letter stream and nothing else
(the server-side refusal itself: tests/integration/test_bus_security.py)."""

from __future__ import annotations

import pytest

from ecandidat.contracts.subjects import dead_letter_stream, dead_letter_subject
from ecandidat.runtime.nats import PRODUCERS, stream_configs
from ecandidat.runtime.natsauth import POLICY, identity, integrator_permissions, service_permissions


@pytest.mark.parametrize("name", sorted(POLICY))
def test_a_service_gets_and_deletes_only_its_own_dead_letters(name: str) -> None:
    publish = service_permissions(POLICY[name]).publish
    mine = dead_letter_stream(name)
    message_api = [s for s in publish if s.startswith("$JS.API.STREAM.MSG.") or s.startswith("$JS.API.DIRECT.")]
    assert sorted(message_api) == [f"$JS.API.STREAM.MSG.DELETE.{mine}", f"$JS.API.STREAM.MSG.GET.{mine}"]
    assert not [s for s in publish if "DEAD_LETTERS" in s and mine not in s]
    assert not [s for s in publish if ">" in s and s.startswith(("$JS.API.STREAM", "dead."))]
    letters = [s for s in publish if s.startswith("dead.")]
    assert letters == sorted(dead_letter_subject(name, d) for d in {d for _, d in POLICY[name].durables()})


def test_the_operator_reads_them_all_and_integrators_none() -> None:
    assert identity("ops").permissions is None  # everything in SERVICES
    assert not [s for s in integrator_permissions().publish if "DEAD_LETTERS" in s]


def test_one_dead_letter_stream_per_service_on_its_own_subjects() -> None:
    streams = {c.name: c.subjects for c in stream_configs() if c.name and c.name.startswith("DEAD_LETTERS")}
    assert streams == {dead_letter_stream(p): [f"dead.{p}.>"] for p in PRODUCERS}
    assert set(POLICY) <= set(PRODUCERS)
    with pytest.raises(ValueError):
        dead_letter_subject("mailer", "documents_letters")
