"""The administration routes the espace gestion's pages use: the offer as its administrators edit
it (`GET /api/v1/staff/offre`), and the events in failure with their replay (`/api/v1/staff/dead-letters`).

A dead letter is made for real: the mailer's consumer fails on one event (its database refuses the
delivery row, as a broken constraint would), three deliveries, then the dead-letter stream.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from ecandidat.contracts.subjects import dead_letter_stream, dead_letter_subject
from ecandidat.runtime.deadletter import get_dead_letter
from services.candidatures.seed import seed_demo
from tests.conftest import eventually, quiescent, unique_email
from tests.e2e.test_accounts import api, sealing_overrides
from tests.e2e.test_accounts_staff import admin, invited


@pytest.fixture
async def platform(start_platform):
    platform = await start_platform("accounts", "candidatures", "mailer", **sealing_overrides())
    await seed_demo(platform.services["candidatures"].pool, date.today())
    return platform


class BrokenMailbox:
    """The mailer's database refuses the delivery rows of one address (a trigger), until repaired."""

    def __init__(self, platform, address: str) -> None:
        self.pool = platform.services["mailer"].pool
        self.address = address
        self.name = f"refuse_{uuid.uuid4().hex[:12]}"

    async def __aenter__(self) -> BrokenMailbox:
        async with self.pool.acquire() as conn:
            await conn.execute(f"""
                CREATE FUNCTION {self.name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.recipient = '{self.address}' THEN RAISE EXCEPTION 'boîte de test indisponible'; END IF;
                  RETURN NEW;
                END $$;
                CREATE TRIGGER {self.name} BEFORE INSERT ON deliveries FOR EACH ROW EXECUTE FUNCTION {self.name}();""")
        return self

    async def repair(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"DROP TRIGGER IF EXISTS {self.name} ON deliveries; DROP FUNCTION IF EXISTS {self.name}();"
            )

    async def __aexit__(self, *exc) -> None:
        await self.repair()


class ManyDeadLetters:
    """`count` letters of the mailer's notifications consumer, as an incident leaves them (published
    with the mailer's own key, as its consumer does); removed at the end."""

    def __init__(self, platform, count: int) -> None:
        self.js = platform.services["mailer"].nc.jetstream(timeout=15)
        self.count, self.seqs = count, []

    async def __aenter__(self) -> ManyDeadLetters:
        durable = "mailer_notifications"
        headers = {
            "Ecandidat-Consumer": durable,
            "Ecandidat-Error": "RuntimeError: incident",
            "Ecandidat-Deliveries": "3",
        }
        for _ in range(self.count):
            ack = await self.js.publish(dead_letter_subject("mailer", durable), b"{}", headers=headers)
            self.seqs.append(ack.seq)
        return self

    async def __aexit__(self, *exc) -> None:
        for seq in self.seqs:
            await self.js.delete_msg(dead_letter_stream("mailer"), seq)


async def dead_letter_for(boss, platform, address: str) -> dict:
    """A mail test to `address` whose handling fails until it is dead-lettered; its letter."""
    status, body, _ = await boss.call("POST", "/api/v1/staff/mail/test", {"to": address})
    assert status == 202, body
    event_id = body["event_id"]

    async def listed() -> dict | None:
        status, letters, _ = await boss.call("GET", "/api/v1/staff/dead-letters")
        assert status == 200, letters
        return next((item for item in letters["items"] if item["event_id"] == event_id), None)

    return await eventually(listed, timeout=60, message="the event is dead-lettered")


def mails_to(smtp_sink, address: str) -> int:
    return sum(1 for m in smtp_sink.messages() if m["To"] == address)


async def test_the_offer_as_its_administrators_edit_it(platform, smtp_sink):
    boss = await admin(platform)
    status, offer, _ = await boss.call("GET", "/api/v1/staff/offre")
    assert status == 200, offer
    daeu = next(f for f in offer["formations"] if f["code"] == "DAEU-A")
    assert daeu["centre_code"] == "DAEU" and daeu["commission_code"] == "COM-DAEU" and daeu["date_retour"]
    assert any(c["en_service"] for c in offer["campagnes"])
    assert {"IDENTITE", "CV"} <= {p["code"] for p in offer["pieces"]} and all(p["id"] for p in offer["pieces"])

    # A formation with a wrong date is refused in French beside the field, and nothing changes.
    body = {k: v for k, v in daeu.items() if k != "code" and v is not None}
    status, problem, _ = await boss.call(
        "PUT", "/api/v1/staff/offre/formations/DAEU-A", {**body, "depot_fin": "2000-01-01", "capacite": 12}
    )
    assert status == 422 and problem["errors"][0]["field"] == "depot_fin", problem
    assert "début" in problem["errors"][0]["message"]
    status, problem, _ = await boss.call(
        "PUT", "/api/v1/staff/offre/formations/DAEU-A", {**body, "capacite": "beaucoup"}
    )
    assert status == 422 and problem["errors"][0]["field"] == "capacite", problem
    status, again, _ = await boss.call("GET", "/api/v1/staff/offre")
    assert next(f for f in again["formations"] if f["code"] == "DAEU-A") == daeu

    # Scolarité edits the offer too; a gestionnaire does not even read it.
    scolarite = await invited(platform, smtp_sink, boss, ["scolarite"])
    assert (await scolarite.call("GET", "/api/v1/staff/offre"))[0] == 200
    gestionnaire = await invited(platform, smtp_sink, boss, ["gestionnaire"], centres=["DAEU"])
    status, problem, _ = await gestionnaire.call("GET", "/api/v1/staff/offre")
    assert status == 403 and problem["code"] == "forbidden"


async def test_a_dead_letter_is_listed_then_replayed_once(platform, smtp_sink):
    boss = await admin(platform)
    address = unique_email("boite-en-panne")
    async with BrokenMailbox(platform, address) as mailbox:
        letter = await dead_letter_for(boss, platform, address)
        assert letter["consumer"] == "mailer_notifications" and letter["service"] == "mailer"
        assert letter["event_type"].endswith("mail_check.requested") or "mail_check" in letter["subject"]
        assert "boîte de test indisponible" in letter["error"] and letter["deliveries"] == 3
        assert letter["dead_lettered_at"]

        # Replayed before the cause is fixed: it fails again, and stays listed.
        status, problem, _ = await boss.call("POST", f"/api/v1/staff/dead-letters/mailer/{letter['seq']}/replay")
        assert status == 409 and "de nouveau échoué" in problem["detail"], problem
        status, letters, _ = await boss.call("GET", "/api/v1/staff/dead-letters")
        assert (letter["service"], letter["seq"]) in {(item["service"], item["seq"]) for item in letters["items"]}

        mailer = platform.services["mailer"]
        kept = await get_dead_letter(mailer.nc.jetstream(), "mailer", letter["seq"])
        await mailbox.repair()
        status, done, _ = await boss.call("POST", f"/api/v1/staff/dead-letters/mailer/{letter['seq']}/replay")
        assert status == 200 and done["event_id"] == letter["event_id"] and not done["already_handled"], done
        await eventually(lambda: mails_to(smtp_sink, address) == 1, timeout=30, message="the mail is sent")

    # Replayed twice: the letter is gone (404); the event handed to its consumer again changes nothing.
    status, problem, _ = await boss.call("POST", f"/api/v1/staff/dead-letters/mailer/{letter['seq']}/replay")
    assert status == 404 and "déjà été rejoué" in problem["detail"], problem
    status, letters, _ = await boss.call("GET", "/api/v1/staff/dead-letters")
    assert (letter["service"], letter["seq"]) not in {(item["service"], item["seq"]) for item in letters["items"]}
    consumer = next(
        c for c in mailer.consumers if c.durable == "mailer_notifications" and c.spec.stream == kept.original_stream
    )
    assert await consumer.replay(kept.data) == ("ack", None, True)
    await eventually(lambda: quiescent(mailer), message="the mailer is idle")
    status, logged, _ = await api(
        platform, "GET", "/api/v1/staff/mail/deliveries", token=boss.token, params={"recipient": address}
    )
    assert status == 200 and len(logged["items"]) == 1
    assert mails_to(smtp_sink, address) == 1


async def test_past_two_hundred_letters_of_a_service_the_newest_are_listed_and_all_counted(platform):
    boss = await admin(platform)
    status, before, _ = await boss.call("GET", "/api/v1/staff/dead-letters")
    assert status == 200 and before["par_service"] == 200 and before["total"] >= len(before["items"]), before
    async with ManyDeadLetters(platform, 230) as flood:
        status, letters, _ = await boss.call("GET", "/api/v1/staff/dead-letters")
        assert status == 200, letters
        of_mailer = [item["seq"] for item in letters["items"] if item["service"] == "mailer"]
        assert of_mailer == sorted(flood.seqs, reverse=True)[:200]  # the newest, newest first
        assert letters["total"] == before["total"] + 230
    status, after, _ = await boss.call("GET", "/api/v1/staff/dead-letters")
    assert after["total"] == before["total"] and after["items"] == before["items"]


async def test_dead_letters_are_for_administrators_and_bad_numbers_are_not_found(platform, smtp_sink):
    boss = await admin(platform)
    for path in ("mailer/abc", "mailer/0", "mailer/99999999999999999999", "mailer/-1", "nobody/1", "DEAD_LETTERS/1"):
        status, problem, _ = await boss.call("POST", f"/api/v1/staff/dead-letters/{path}/replay")
        assert status == 404 and problem["detail"].startswith("Cet événement"), (path, problem)
    status, problem, _ = await boss.call("POST", "/api/v1/staff/dead-letters/mailer/999999999/replay")
    assert status == 404, problem
    scolarite = await invited(platform, smtp_sink, boss, ["scolarite"])
    for method, path in (("GET", "/api/v1/staff/dead-letters"), ("POST", "/api/v1/staff/dead-letters/mailer/1/replay")):
        status, problem, _ = await scolarite.call(method, path)
        assert status == 403 and problem["code"] == "forbidden", (path, problem)


async def test_a_bad_extension_after_an_incident_is_refused_in_french_and_changes_nothing(platform):
    boss = await admin(platform)
    status, offer, _ = await boss.call("GET", "/api/v1/staff/offre")
    campagne = next(c for c in offer["campagnes"] if c["en_service"])["code"]
    path = f"/api/v1/staff/offre/campagnes/{campagne}/prolongations"
    good = {"incident_debut": "2026-01-01T10:00:00+01:00", "heures": 24, "motif": "Panne"}
    for bad, field in (
        ({"heures": 0}, "heures"),
        ({"motif": ""}, "motif"),
        ({"incident_debut": "hier"}, "incident_debut"),
        ({"incident_debut": "2026-01-01T10:00:00"}, "incident_debut"),
    ):
        status, problem, _ = await boss.call("POST", path, {**good, **bad})
        assert status == 422 and problem["errors"][0]["field"] == field, (bad, problem)
    status, again, _ = await boss.call("GET", "/api/v1/staff/offre")
    assert again["prolongations"] == offer["prolongations"]
