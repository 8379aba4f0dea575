"""The dossier through the gateway over HTTP, with the dossiers service on real NATS and PostgreSQL.

These tests install a test authenticator on the gateway (`app[AUTHENTICATOR]`): a bearer token maps
to a `Principal` the test creates (any staff role and scope, no TOTP enrolment), and realm and roles
are checked as the real one does. `test_dossiers_login.py` runs the candidate's side with real
accounts (created, activated, logged in through the gateway).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from ecandidat.contracts.auth import Principal
from services.dossiers.service import DossiersService
from services.dossiers.settings import DossiersSettings
from tests.conftest import eventually
from tests.integration.dossiers.conftest import candidature_created, publish
from tests.unit.dossiers.samples import (
    adresse,
    baccalaureat,
    bea,
    cursus_externe,
    experiences,
    infos_perso,
    registry_csv,
    registry_row,
    stages,
)

API = "/api/v1"


@dataclass
class Gateway:
    http: aiohttp.ClientSession
    service: DossiersService
    tokens: dict[str, Principal] = field(default_factory=dict)

    def login(self, principal: Principal) -> dict[str, str]:
        token = uuid.uuid4().hex
        self.tokens[token] = principal
        return {"Authorization": f"Bearer {token}"}

    def candidate(self) -> tuple[Principal, dict[str, str]]:
        me = Principal(realm="candidate", account_id=uuid.uuid4(), email=f"{uuid.uuid4().hex[:8]}@example.org")
        return me, self.login(me)

    def staff(self, *roles: str, centres: tuple[str, ...] = ()) -> dict[str, str]:
        return self.login(
            Principal(realm="staff", account_id=uuid.uuid4(), email="agent@univ.example", roles=roles, centres=centres)
        )

    async def put(self, path: str, headers: dict[str, str], body, version: int | None = 0):
        extra = {} if version is None else {"If-Match": f'"{version}"'}
        async with self.http.put(API + path, json=body, headers={**headers, **extra}) as resp:
            return resp.status, await resp.json(), resp.headers.get("ETag")

    async def get(self, path: str, headers: dict[str, str]):
        async with self.http.get(API + path, headers=headers) as resp:
            return resp.status, await resp.json(), resp.headers.get("ETag")


@pytest.fixture
async def gateway(settings_for, start_token_gateway) -> AsyncIterator[Gateway]:
    service = DossiersService(settings_for(DossiersSettings))
    await service.start()
    tokens: dict[str, Principal] = {}
    http = await start_token_gateway(tokens, ("dossiers",))
    yield Gateway(http, service, tokens)
    await service.stop()


SECTIONS = [
    ("informations-personnelles", infos_perso()),
    ("adresse", adresse()),
    ("baccalaureat", baccalaureat()),
    ("cursus-externe", cursus_externe()),
    ("stages", stages()),
    ("experiences-professionnelles", experiences()),
]


async def test_fill_every_section_in_order(gateway):
    me, auth = gateway.candidate()
    status, body, _ = await gateway.put("/dossier/sections/adresse", auth, adresse())
    assert status == 409 and body["errors"][0]["field"] == "informations_personnelles"
    assert "d'abord vos informations personnelles" in body["detail"]
    status, body, _ = await gateway.put(
        "/dossier/sections/informations-personnelles", auth, infos_perso(), version=None
    )
    assert status == 428 and body["code"] == "precondition_required" and "If-Match" in body["detail"]
    for slug, content in SECTIONS:
        status, body, etag = await gateway.put(f"/dossier/sections/{slug}", auth, content)
        assert status == 200, (slug, body)
        assert etag == '"1"' and body["section"]["version"] == 1
    status, body, _ = await gateway.get("/dossier/completude", auth)
    assert status == 200 and body["complet"] is True and body["manquants"] == []
    status, body, etag = await gateway.get("/dossier/sections/adresse", auth)
    assert (status, etag, body["donnees"]["commune"]) == (200, '"1"', "31555")
    status, body, _ = await gateway.put("/dossier/sections/adresse", auth, adresse(ligne2="Bâtiment B"), version=0)
    assert status == 412 and body["code"] == "precondition_failed" and body["version"] == 1
    status, body, etag = await gateway.put("/dossier/sections/adresse", auth, adresse(ligne2="Bâtiment B"), version=1)
    assert status == 200 and etag == '"2"'
    status, body, _ = await gateway.get("/dossier", auth)
    assert status == 200 and body["completude"]["complet"]
    assert [s["section"] for s in body["sections"]] == [
        "informations_personnelles",
        "adresse",
        "baccalaureat",
        "cursus_interne",
        "cursus_externe",
        "stages",
        "experiences_professionnelles",
    ]
    async with gateway.http.get(API + "/dossier") as resp:
        assert resp.status == 401


BAD_INPUT = [
    ("informations-personnelles", infos_perso(date_naissance=20010314), "date_naissance", "date"),
    ("informations-personnelles", infos_perso(date_naissance="2001-02-30"), "date_naissance", "date"),
    ("informations-personnelles", infos_perso(date_naissance="2024-01-01"), "date_naissance", "plausible"),
    ("informations-personnelles", infos_perso(ine="1234567890W"), "ine", "clé"),
    ("informations-personnelles", infos_perso(commune_naissance="31999"), "commune_naissance", "inconnue"),
    ("informations-personnelles", infos_perso(nom_naissance="x" * 101), "nom_naissance", "trop long"),
    ("informations-personnelles", infos_perso(role="admin"), "role", "pas attendu"),
    ("informations-personnelles", infos_perso(civilite="Monseigneur"), "civilite", "Valeur non autorisée"),
    ("informations-personnelles", {k: v for k, v in infos_perso().items() if k != "prenoms"}, "prenoms", "obligatoire"),
    ("adresse", adresse(commune="99999"), "commune", "inconnue"),
    ("adresse", adresse(code_postal="75001"), "code_postal", "ne correspond pas"),
    ("adresse", adresse(ligne1=["rue"]), "ligne1", "chaîne"),
    ("adresse", adresse(ligne1="1 rue\u0000du Taur"), "ligne1", "format"),
    ("baccalaureat", baccalaureat(annee="deux mille"), "annee", "nombre entier"),
    ("baccalaureat", baccalaureat(annee=1990), "annee", "plausible"),
    ("baccalaureat", baccalaureat(commune="2B999"), "commune", "inconnue"),
    ("baccalaureat", baccalaureat(specialites=["a"] * 5), "specialites", "Trop d'éléments"),
    (
        "cursus-externe",
        {"items": [{**cursus_externe()["items"][0], "annee_universitaire": "2019-2030"}]},
        "items.0.annee_universitaire",
        "consécutives",
    ),
    ("cursus-externe", {"items": [{**cursus_externe()["items"][0], "secret": 1}]}, "items.0.secret", "pas attendu"),
    ("stages", {"items": [{**stages()["items"][0], "descriptif": "x" * 2001}]}, "items.0.descriptif", "trop long"),
    ("stages", {"items": [{**stages()["items"][0], "annee": 2099}]}, "items.0.annee", "futur"),
    (
        "experiences-professionnelles",
        {"items": [{**experiences()["items"][0], "annee": True}]},
        "items.0.annee",
        "entier",
    ),
    ("experiences-professionnelles", {"items": [], "extra": []}, "extra", "pas attendu"),
]


@pytest.mark.parametrize("slug,body,field_name,words", BAD_INPUT, ids=[f"{b[0]}:{b[2]}" for b in BAD_INPUT])
async def test_bad_input_is_refused_in_french_naming_the_field_and_changes_nothing(
    gateway, slug, body, field_name, words
):
    me, auth = gateway.candidate()
    if slug != "informations-personnelles":
        assert (await gateway.put("/dossier/sections/informations-personnelles", auth, infos_perso()))[0] == 200
    status, problem, _ = await gateway.put(f"/dossier/sections/{slug}", auth, body)
    assert status == 422, problem
    assert problem["code"] == "invalid" and problem["detail"] == "Les données envoyées sont invalides."
    matching = [e for e in problem["errors"] if e["field"] == field_name]
    assert matching and words in matching[0]["message"], problem["errors"]
    status, section, etag = await gateway.get(f"/dossier/sections/{slug}", auth)
    assert status == 200 and section["version"] == 0 and section["donnees"] is None and etag == '"0"'


async def test_a_body_that_is_not_a_json_object_is_refused(gateway):
    _, auth = gateway.candidate()
    async with gateway.http.put(
        API + "/dossier/sections/informations-personnelles",
        data=b"{nope",
        headers={**auth, "If-Match": '"0"', "Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400 and "JSON" in (await resp.json())["detail"]
    async with gateway.http.put(
        API + "/dossier/sections/informations-personnelles",
        data=b"civilite=M.",
        headers={**auth, "If-Match": '"0"', "Content-Type": "application/x-www-form-urlencoded"},
    ) as resp:
        assert resp.status == 415


async def upload(gateway: Gateway, auth: dict[str, str], csv: bytes):
    async with gateway.http.post(
        API + "/staff/registre-etudiants", data=csv, headers={**auth, "Content-Type": "text/csv"}
    ) as resp:
        return resp.status, await resp.json()


async def test_registry_csv_import_fills_and_locks_the_imported_parts(gateway):
    admin = gateway.staff("admin")
    ine = bea(f"{uuid.uuid4().int % 10**10:010d}")
    status, report = await upload(gateway, admin, registry_csv([registry_row(ine)]))
    assert status == 200 and report == {
        "lignes": 1,
        "crees": 1,
        "mis_a_jour": 0,
        "inchanges": 0,
        "dossiers_importes": 0,
    }
    status, report = await upload(gateway, admin, registry_csv([registry_row(ine)]))
    assert status == 200 and report["inchanges"] == 1 and report["crees"] == 0

    me, auth = gateway.candidate()
    status, body, etag = await gateway.put(
        "/dossier/sections/informations-personnelles", auth, infos_perso(ine=ine, date_naissance="2000-06-21")
    )
    assert status == 200 and body["import_ine"]["ine"] == ine
    assert body["section"]["donnees"]["nom_naissance"] == "Dupont"
    status, dossier, _ = await gateway.get("/dossier", auth)
    by_section = {s["section"]: s for s in dossier["sections"]}
    assert by_section["cursus_interne"]["renseignee"] and by_section["baccalaureat"]["lecture_seule"]
    assert dossier["completude"]["complet"]
    status, body, _ = await gateway.put(
        "/dossier/sections/baccalaureat", auth, baccalaureat(), version=by_section["baccalaureat"]["version"]
    )
    assert status == 409 and "dossier universitaire" in body["detail"]
    status, body, _ = await gateway.put("/dossier/sections/stages", auth, stages())
    assert status == 200  # parts the records do not hold stay the candidate's


async def test_a_malformed_or_hostile_csv_is_refused_line_by_line(gateway):
    admin = gateway.staff("admin")
    good = bea(f"{uuid.uuid4().int % 10**10:010d}")
    rows = [registry_row(good), registry_row(good), registry_row("1234567890W", nom_naissance="=cmd|'/c calc'!A0")]
    status, problem = await upload(gateway, admin, registry_csv(rows))
    assert status == 422 and problem["lignes_en_erreur"] == 2 and "rien n'a été importé" in problem["detail"]
    assert [e["message"].split(",")[0] for e in problem["errors"]] == ["Ligne 3", "Ligne 4"]
    status, problem = await upload(gateway, admin, registry_csv([registry_row(good)]).replace(b"\xc3\xa9", b"\xe9"))
    assert status == 422 and "UTF-8" in problem["errors"][0]["message"]
    status, problem = await upload(gateway, admin, b"ine;nom\n" + good.encode() + b";Dupont\n")
    assert status == 422 and "colonnes manquantes" in problem["errors"][0]["message"]
    status, report = await upload(gateway, admin, registry_csv([registry_row(good)]))
    assert status == 200 and report["crees"] == 1  # nothing of the refused files had been kept
    status, problem = await upload(gateway, gateway.staff("scolarite"), registry_csv([registry_row(good)]))
    assert status == 403
    _, auth = gateway.candidate()
    assert (await upload(gateway, auth, registry_csv([registry_row(good)])))[0] == 403


async def test_after_a_candidature_informations_personnelles_are_refused_to_the_candidate_and_open_to_staff(gateway):
    me, auth = gateway.candidate()
    assert (await gateway.put("/dossier/sections/informations-personnelles", auth, infos_perso()))[0] == 200
    await publish(gateway.service, candidature_created(me.account_id, centre="DAEU"))

    async def locked():
        _, body, _ = await gateway.get("/dossier", auth)
        return body["informations_personnelles_verrouillees"]

    await eventually(locked, message="lock applied")
    status, body, _ = await gateway.put(
        "/dossier/sections/informations-personnelles", auth, infos_perso(prenoms="Autre"), 1
    )
    assert status == 409 and "ne peuvent plus être modifiées" in body["detail"]
    assert (await gateway.put("/dossier/sections/adresse", auth, adresse()))[0] == 200

    gestionnaire = gateway.staff("gestionnaire", centres=("DAEU",))
    path = f"/staff/dossiers/{me.account_id}"
    status, dossier, _ = await gateway.get(path, gestionnaire)
    assert status == 200 and dossier["completude"]["manquants"] == ["Baccalauréat : rubrique à renseigner"]
    status, body, etag = await gateway.put(
        f"{path}/sections/informations-personnelles", gestionnaire, infos_perso(nom_usage="Garonne-Tarn"), 1
    )
    assert status == 200 and etag == '"2"' and body["section"]["donnees"]["nom_usage"] == "Garonne-Tarn"
    status, body, _ = await gateway.get("/dossier/sections/informations-personnelles", auth)
    assert body["donnees"]["nom_usage"] == "Garonne-Tarn" and body["lecture_seule"]
    assert (await gateway.get(path, gateway.staff("gestionnaire", centres=("MASTER",))))[0] == 403
    assert (
        await gateway.put(
            f"{path}/sections/informations-personnelles",
            gateway.staff("gestionnaire_lecture", centres=("DAEU",)),
            infos_perso(),
            2,
        )
    )[0] == 403
    assert (await gateway.get(path, auth))[0] == 403  # a candidate is not staff


async def test_reference_lookups_help_fill_the_codes(gateway):
    async with gateway.http.get(API + "/referentiels/communes", params={"code_postal": "31000"}) as resp:
        assert resp.status == 200 and resp.headers["Cache-Control"].startswith("public")
        assert [(c["code"], c["nom"]) for c in (await resp.json())["items"]] == [("31555", "Toulouse")]
    async with gateway.http.get(
        API + "/referentiels/communes", params={"nom": "saint-etienne", "departement": "42"}
    ) as resp:
        assert (await resp.json())["items"][0]["code"] == "42218"
    # A saved commune named from its INSEE code alone (Toulouse is not among the first hundred of
    # its département by name): the forms show a stored commune this way.
    async with gateway.http.get(API + "/referentiels/communes", params={"code": "31555"}) as resp:
        assert [(c["code"], c["nom"], c["departement"]) for c in (await resp.json())["items"]] == [
            ("31555", "Toulouse", "31")
        ]
    async with gateway.http.get(API + "/referentiels/communes", params={"code": "31999"}) as resp:
        assert resp.status == 200 and (await resp.json())["items"] == []  # no such commune
    async with gateway.http.get(API + "/referentiels/communes", params={"code": "Toulouse"}) as resp:
        assert resp.status == 422 and {e["field"] for e in (await resp.json())["errors"]} == {"code"}
    async with gateway.http.get(API + "/referentiels/communes") as resp:
        assert resp.status == 422 and "code postal" in (await resp.json())["errors"][0]["message"]
    async with gateway.http.get(API + "/referentiels/communes", params={"nom": "a", "limit": "1000"}) as resp:
        fields = {e["field"] for e in (await resp.json())["errors"]}
        assert resp.status == 422 and fields == {"nom", "limit"}
    async with gateway.http.get(API + "/referentiels") as resp:
        body = await resp.json()
        assert {"code": "DE", "nom": "Allemagne"} in body["pays"] and {"code": "2A", "nom": "Corse-du-Sud"} in body[
            "departements"
        ]
