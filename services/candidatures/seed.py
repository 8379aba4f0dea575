"""The demo campaign: the centres, types, formations and pieces named in the candidates' guide.

Dates are set around `today` so that the demo is open whenever it is seeded. Idempotent: seeding
again updates the same codes.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import asyncpg
from nats.aio.client import Client as NATS

from ecandidat.contracts import access
from ecandidat.contracts import candidatures as c
from ecandidat.contracts.auth import Principal
from ecandidat.runtime.clock import SystemClock
from ecandidat.contracts.base import RpcRequest
from ecandidat.contracts.subjects import rpc_subject
from ecandidat.runtime.rpc import RpcClient

from . import offer
from .context import Deps
from .settings import CandidaturesSettings


class _NoBus(RpcClient):
    """The seed runs the offer's handlers without the bus: they call no other service today, and
    one that did would fail here with this message rather than with a connection error."""

    def __init__(self) -> None:
        super().__init__(NATS())

    async def call_raw(self, request: RpcRequest, **_: object) -> bytes:
        raise RuntimeError(f"the demo seed runs without NATS: {rpc_subject(request)} cannot be called from it")


SEEDER = Principal(realm="staff", account_id=uuid.UUID(int=0), email="seed@ecandidat.localhost", roles=access.ADMINS)

CONTACT_FC = dict(
    contact_libelle="Formation Continue",
    contact_adresse="5 Allées Antonio Machado\n31058 TOULOUSE Cedex9",
    contact_mail="formations.diplomantes@univ-tlse2.fr",
)
CONTACT_DAEU = dict(CONTACT_FC, contact_mail="daeu@univ-tlse2.fr")
# Who signs the letters of each centre (demo names).
SIGNATAIRES = {
    "DAEU": ("Claire Moulin", "Responsable du DAEU, par délégation du président de l'université"),
}
SIGNATAIRE_FC = (
    "Jean Delmas",
    "Directeur du service de la formation continue, par délégation du président de l'université",
)
# The modalités d'inscription named in the admission letters (demo text).
MODALITES = {
    "DAEU": "Prenez rendez-vous avec le secrétariat du DAEU (daeu@univ-tlse2.fr) dans les quinze jours qui suivent "
    "votre confirmation, muni de votre pièce d'identité et d'une photographie ; votre inscription "
    "administrative est faite lors de ce rendez-vous.",
    "FC-DIPL": "Votre inscription administrative se fait en ligne : le service de la formation continue vous envoie "
    "le lien d'inscription et le devis de formation dans la semaine qui suit votre confirmation.",
}

CENTRES = [
    ("FC-DIPL", "Service de la Formation continue - Formations diplômantes", CONTACT_FC, 1),
    ("FC-VA85", "Service de la Formation continue - VA85", CONTACT_FC, 2),
    ("FC-REPRISE", "Service de la formation continue - Reprise d'études", CONTACT_FC, 3),
    ("DAEU", "Diplôme d'Accès aux Etudes Universitaires (DAEU)", CONTACT_DAEU, 4),
]

TYPES = [
    ("M", "M- MASTER", 1),
    ("U-1C", "U- DIPLÔME D'UNIVERSITÉ 1CYCLE", 2),
    ("U-B2", "U- DIPLÔME D'UNIVERSITÉ BAC+2", 3),
    ("U-B3", "U- DIPLÔME D'UNIVERSITÉ BAC+3", 4),
    ("U-B5", "U- DIPLÔME D'UNIVERSITÉ BAC+5", 5),
    ("DAEU", "DAEU - DIPLÔME D'ACCÈS AUX ÉTUDES UNIVERSITAIRES", 6),
]

COMMISSIONS = [
    ("COM-FC", "Commission pédagogique de la formation continue", "FC-DIPL"),
    ("COM-DAEU", "Commission d'admission DAEU", "DAEU"),
    ("COM-REPRISE", "Commission reprise d'études", "FC-REPRISE"),
]

# The dossier's optional sections a formation requires (the others, the DAEU's included, require none).
RUBRIQUES_EXIGEES = {"VA85-LIC": ["experiences_professionnelles"]}

# The staff's étiquettes: code, libellé, couleur (a DSFR illustrative colour)
ETIQUETTES = [
    ("A-REVOIR", "À revoir", "orange-terre-battue"),
    ("PRIORITAIRE", "Dossier prioritaire", "green-emeraude"),
    ("RELANCE", "Candidat à relancer", "blue-ecume"),
]

# code, libellé, centre, type, commission, type de traitement, capacité
FORMATIONS = [
    ("DAEU-A", "DAEU option A", "DAEU", "DAEU", "COM-DAEU", "acces_controle", 60),
    ("DAEU-B", "DAEU option B", "DAEU", "DAEU", "COM-DAEU", "acces_controle", 40),
    ("DU-MUSICO", "DU Musicothérapie", "FC-DIPL", "U-B3", "COM-FC", "acces_controle", 25),
    ("M1-BIOVIE", "M1 BIOLOGIE DU VIEILLISSEMENT", "FC-DIPL", "M", "COM-FC", "acces_controle", 20),
    ("DU-ACCOMP", "DU Accompagnement et médiation", "FC-DIPL", "U-B2", "COM-FC", "acces_direct", 30),
    ("DU-LSF", "DU Langue des signes française", "FC-DIPL", "U-1C", "COM-FC", "acces_controle", 20),
    ("DU-ERGO", "DU Ergonomie et santé au travail", "FC-DIPL", "U-B5", "COM-FC", "acces_controle", 15),
    ("VA85-LIC", "Validation des acquis (VA85) - Licence", "FC-VA85", "U-B3", "COM-FC", "acces_controle", None),
    ("REPRISE-L1", "Reprise d'études - Licence 1", "FC-REPRISE", "U-1C", "COM-REPRISE", "acces_direct", 50),
]

# code, libellé, ordre, niveau, centre, formation, conditionnelle, modèle
PIECES = [
    (
        "IDENTITE",
        "Une copie recto-verso de votre pièce d'identité (carte d'identité nationale ou passeport en cours de validité)",
        1,
        "etablissement",
        None,
        None,
        False,
        False,
    ),
    (
        "SCOLARITE",
        "Justificatifs de scolarisation (selon les cas, soit dernier diplôme, soit dernier bulletin, soit dernier relevé de notes)",
        2,
        "etablissement",
        None,
        None,
        False,
        False,
    ),
    ("CV", "Curriculum vitae détaillé", 3, "etablissement", None, None, False, False),
    ("MOTIVATION-FC", "Lettre de motivation", 4, "centre", "FC-DIPL", None, False, False),
    ("IMPOSITION", "Une copie de votre dernier avis d'imposition", 4, "centre", "DAEU", None, False, False),
    (
        "MOTIVATION-DAEU",
        "Lettre de motivation (à l'attention de l'Equipe Pédagogique DAEU A : développer votre projet professionnel avec précision)",
        5,
        "formation",
        None,
        "DAEU-A",
        False,
        False,
    ),
    ("FICHE-CLIENT", "Fiche client", 6, "centre", "DAEU", None, False, True),
    ("PRE-INSCRIPTION", "Dossier complémentaire de pré-inscription.", 7, "centre", "DAEU", None, False, True),
    (
        "SED",
        "Fiche d'inscription au service d'enseignement à distance (pour les personnes ne pouvant pas assister aux cours en présentiel)",
        8,
        "centre",
        "DAEU",
        None,
        True,
        False,
    ),
    (
        "MOINS-24",
        "Moins de 24 ans au 1er Octobre : justificatifs de 12 mois d'activités par des photocopies de fiches de paie ou d'un historique d'inscription Pôle Emploi",
        9,
        "centre",
        "DAEU",
        None,
        True,
        False,
    ),
    (
        "FICHE-REGION",
        "Fiche région : pour les demandeurs d'emploi sollicitant un financement de formation.",
        10,
        "centre",
        "DAEU",
        None,
        True,
        True,
    ),
    (
        "RSA",
        "Bénéficiaires du RSA : attestation RSA ; ATTENTION : nécessité d'être inscrit à Pôle Emploi.",
        11,
        "centre",
        "DAEU",
        None,
        True,
        False,
    ),
    (
        "AAH",
        "Adultes handicapés : attestation des droits AAH et/ou RQTH ; ATTENTION : nécessité d'être inscrit à Pôle Emploi",
        12,
        "centre",
        "DAEU",
        None,
        True,
        False,
    ),
]


async def seed_demo(pool: asyncpg.Pool, today: date, campaign_year: int | None = None) -> dict[str, uuid.UUID | None]:
    """Create or update the demo campaign and offer; return the piece ids by code."""
    year = campaign_year or today.year
    p = SEEDER
    # The offer's handlers, as the service runs them.
    deps = Deps(pool, SystemClock(), _NoBus(), CandidaturesSettings())
    await offer.save_campagne(
        deps,
        c.SaveCampagne(
            principal=p,
            code=f"CAMP{year}",
            libelle=f"Campagne {year}",
            debut=today - timedelta(days=30),
            fin=today + timedelta(days=180),
            prefix=f"{year % 100:02d}",
            en_service=True,
        ),
    )
    for code, libelle, contact, ordre in CENTRES:
        nom, qualite = SIGNATAIRES.get(code, SIGNATAIRE_FC)
        await offer.save_centre(
            deps,
            c.SaveCentre(
                principal=p,
                code=code,
                libelle=libelle,
                ordre=ordre,
                **contact,
                signataire_nom=nom,
                signataire_qualite=qualite,
            ),
        )
    for code, libelle, ordre in TYPES:
        await offer.save_type_diplome(deps, c.SaveTypeDiplome(principal=p, code=code, libelle=libelle, ordre=ordre))
    for code, libelle, centre in COMMISSIONS:
        await offer.save_commission(deps, c.SaveCommission(principal=p, code=code, libelle=libelle, centre_code=centre))
    for code, libelle, centre, type_code, commission, traitement, capacite in FORMATIONS:
        await offer.save_formation(
            deps,
            c.SaveFormation(
                principal=p,
                code=code,
                libelle=libelle,
                centre_code=centre,
                type_code=type_code,
                commission_code=commission,
                type_traitement=traitement,
                capacite=capacite,
                depot_debut=today - timedelta(days=7),
                depot_fin=today + timedelta(days=60),
                date_retour=today + timedelta(days=75),
                delai_confirmation_jours=10,
                date_jury=today + timedelta(days=90),
                date_publication=today + timedelta(days=95),
                modalites_inscription=MODALITES.get(centre),
                rubriques_exigees=RUBRIQUES_EXIGEES.get(code, []),
            ),
        )
    ids: dict[str, uuid.UUID | None] = {}
    for code, libelle, ordre, niveau, piece_centre, piece_formation, conditionnelle, modele in PIECES:
        saved = await offer.save_piece(
            deps,
            c.SavePiece(
                principal=p,
                code=code,
                libelle=libelle,
                ordre=ordre,
                niveau=niveau,
                centre_code=piece_centre,
                formation_code=piece_formation,
                conditionnelle=conditionnelle,
                has_template=modele,
            ),
        )
        ids[code] = saved.id
    for ordre, (code, libelle, couleur) in enumerate(ETIQUETTES, start=1):
        await offer.save_etiquette(
            deps, c.SaveEtiquette(principal=p, code=code, libelle=libelle, couleur=couleur, ordre=ordre)
        )
    return ids
