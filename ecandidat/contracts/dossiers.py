"""Rpc bodies of the dossiers service: the candidate's dossier, section by section.

Section contents are the bodies the HTTP API accepts (`PUT /api/v1/dossier/sections/...`): they
check shapes (types, lengths, formats, unknown fields refused). What needs reference data or the
clock (communes, INE check character, plausible dates) is checked by the service, which answers
with the same French, field-named refusals.

Their published JSON Schema carries what a generated client needs to send valid data: the country
and département codes as enums, the fields that depend on the country (`if`/`then`/`else`: born
in France → département and commune; abroad → the town's name), patterns, formats and lengths;
what cannot be said in JSON Schema (the commune exists, plausible dates, the INE key) is in the
field's description.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

import pycountry
from pydantic import BeforeValidator, ConfigDict, Field, JsonValue, StringConstraints, model_validator

from .auth import Principal
from .base import Message, RpcReply, RpcRequest

# One line of text: no control character, surrounding spaces removed.
_LINE = r"^[^\x00-\x1f\x7f]*$"
# Free text over several lines: tabs and line breaks allowed, no other control character.
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


# A code compared in upper case: "fr" is read as "FR" before its format is checked.
_UPPER = BeforeValidator(_upper)


def _date_text(value: Any) -> Any:
    # pydantic would read a number as a Unix timestamp; a date is written AAAA-MM-JJ.
    if isinstance(value, (int, float)):
        raise ValueError("Ce champ doit être une date (AAAA-MM-JJ).")
    return value


Date = Annotated[date, BeforeValidator(_date_text)]


def _line(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length, pattern=_LINE)


Ligne40 = Annotated[str, _line(40)]
Ligne100 = Annotated[str, _line(100)]
Ligne150 = Annotated[str, _line(150)]
Ligne200 = Annotated[str, _line(200)]
Texte = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=_TEXT)]
# The codes the service accepts (`services/dossiers/referentiels.py`; a test keeps them equal).
COUNTRY_CODES = tuple(sorted(c.alpha_2 for c in pycountry.countries))
DEPARTEMENT_CODES = tuple(
    sorted(
        [f"{n:02d}" for n in range(1, 96) if n != 20]
        + ["2A", "2B"]
        + ["971", "972", "973", "974", "975", "976", "977", "978", "984", "986", "987", "988", "989"]
    )
)
CodePays = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    _UPPER,
    Field(json_schema_extra={"enum": list(COUNTRY_CODES)}, description="Code pays ISO 3166 à deux lettres (FR, BE…)"),
]
CodeDepartement = Annotated[
    str,
    StringConstraints(pattern=r"^(\d{2}|2A|2B|\d{3})$"),
    _UPPER,
    Field(json_schema_extra={"enum": list(DEPARTEMENT_CODES)}, description="Code du département (31, 2A, 974…)"),
]
CodeCommune = Annotated[
    str,
    StringConstraints(pattern=r"^(\d{5}|2A\d{3}|2B\d{3})$"),
    _UPPER,
    Field(
        description="Code INSEE d'une commune existante, dans le département indiqué (31555 pour Toulouse ; "
        "voir GET /api/v1/referentiels/communes)"
    ),
]
# Five digits in France; other countries' postal codes vary (letters, spaces, dashes).
CodePostal = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z][0-9A-Z -]{1,9}$"), _UPPER]
Telephone = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=6, max_length=20, pattern=r"^\+?[0-9 .()-]+$")
]
Ine = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z ]+$", min_length=11, max_length=14), _UPPER]
Uai = Annotated[str, StringConstraints(pattern=r"^\d{7}[A-Z]$"), _UPPER]
AnneeUniversitaire = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^(19|20)\d{2}-(19|20)\d{2}$")]


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):  # JSON true is not the year 1
        raise ValueError("Ce champ doit être un nombre entier.")
    return value


Annee = Annotated[int, Field(ge=1900, le=2100), BeforeValidator(_not_bool)]

SectionName = Literal[
    "informations_personnelles",
    "adresse",
    "baccalaureat",
    "cursus_interne",
    "cursus_externe",
    "stages",
    "experiences_professionnelles",
]
SECTIONS: tuple[str, ...] = get_args(SectionName)
SECTION_LABELS = {
    "informations_personnelles": "Informations personnelles",
    "adresse": "Adresse",
    "baccalaureat": "Baccalauréat",
    "cursus_interne": "Cursus interne",
    "cursus_externe": "Cursus externe",
    "stages": "Stages",
    "experiences_professionnelles": "Expériences professionnelles",
}
# Sections the candidature service requires before an application.
REQUIRED_SECTIONS = ("informations_personnelles", "adresse", "baccalaureat")
# Sections optional for every formation unless a formation requires them (its `rubriques_exigees`);
# the cursus interne comes from the student records and is never asked of the candidate.
RubriqueExigible = Literal["cursus_externe", "stages", "experiences_professionnelles"]
EXIGIBLE_SECTIONS: tuple[str, ...] = get_args(RubriqueExigible)


# -- section contents (inputs) ----------------------------------------------------------------


def _by_country(
    field: str,
    *,
    france: tuple[str, ...],
    france_absent: tuple[str, ...],
    abroad: tuple[str, ...],
    abroad_absent: tuple[str, ...],
    value: str = "FR",
) -> dict[str, Any]:
    """JSON Schema saying which fields `field` = FR requires or excludes, and which other countries do."""
    null = {"type": "null"}
    return {
        "if": {"properties": {field: {"const": value}}, "required": [field]},
        "then": {"required": list(france), "properties": {f: null for f in france_absent}},
        "else": {"required": list(abroad), "properties": {f: null for f in abroad_absent}},
    }


class InformationsPersonnelles(Message):
    """État civil, naissance, nationalité, INE/BEA (with its check character) and telephones.

    Born in France (`pays_naissance` = FR): `departement_naissance` and `commune_naissance` (INSEE
    code); born abroad: `ville_naissance_etranger`.
    """

    model_config = ConfigDict(
        json_schema_extra=_by_country(
            "pays_naissance",
            france=("departement_naissance", "commune_naissance"),
            france_absent=("ville_naissance_etranger",),
            abroad=("ville_naissance_etranger",),
            abroad_absent=("departement_naissance", "commune_naissance"),
        )
    )

    civilite: Literal["M.", "Mme"]
    nom_naissance: Ligne100
    nom_usage: Ligne100 | None = None
    prenoms: Ligne150
    date_naissance: Date = Field(description="AAAA-MM-JJ ; l'âge doit être entre 14 et 100 ans")
    pays_naissance: CodePays
    departement_naissance: CodeDepartement | None = None
    commune_naissance: CodeCommune | None = None
    ville_naissance_etranger: Ligne100 | None = None
    nationalite: CodePays
    ine: Ine | None = Field(default=None, description="INE ou BEA avec sa clé (11 caractères), si vous en possédez un")
    telephone: Telephone | None = None
    portable: Telephone | None = None


class Adresse(Message):
    """Postal address. In France: `code_postal` and `commune` (INSEE code); abroad: `ville_etranger`."""

    model_config = ConfigDict(
        json_schema_extra={
            **_by_country(
                "pays",
                france=("code_postal", "commune"),
                france_absent=("ville_etranger",),
                abroad=("ville_etranger",),
                abroad_absent=("commune", "cedex"),
            ),
            "dependentSchemas": {
                "code_postal": {
                    "if": {"properties": {"pays": {"const": "FR"}}, "required": ["pays"]},
                    "then": {"properties": {"code_postal": {"pattern": r"^\d{5}$"}}},
                }
            },
        }
    )

    pays: CodePays
    ligne1: Ligne100
    ligne2: Ligne100 | None = None
    ligne3: Ligne100 | None = None
    code_postal: CodePostal | None = None
    commune: CodeCommune | None = None
    ville_etranger: Ligne100 | None = None
    cedex: Annotated[str, StringConstraints(pattern=r"^CEDEX( \d{1,2})?$"), _UPPER] | None = None


# Without a baccalauréat, its fields stay empty.
_SANS_BAC: dict[str, JsonValue] = {
    **{
        f: {"type": "null"}
        for f in ("annee", "serie", "mention", "pays", "departement", "commune", "etablissement", "uai_etablissement")
    },
    **{f: {"maxItems": 0} for f in ("specialites", "options")},
}


class Baccalaureat(Message):
    """The baccalauréat, an equivalent diploma, or none (`situation` = sans_bac)."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"situation": {"const": "sans_bac"}}, "required": ["situation"]},
            "then": {"properties": _SANS_BAC},
            "else": {
                "required": ["annee", "serie", "pays"],
                **_by_country("pays", france=(), france_absent=(), abroad=(), abroad_absent=("departement", "commune")),
            },
        }
    )

    situation: Literal["bac", "equivalence", "sans_bac"]
    annee: Annee | None = Field(
        default=None, description="Année d'obtention : pas dans le futur, au moins 12 ans après la naissance"
    )
    serie: Ligne100 | None = Field(
        default=None, description="Série ou type (Générale, STMG, ES, équivalence étrangère…)"
    )
    mention: Literal["passable", "assez_bien", "bien", "tres_bien", "tres_bien_felicitations"] | None = None
    pays: CodePays | None = None
    departement: CodeDepartement | None = None
    commune: CodeCommune | None = None
    etablissement: Ligne150 | None = None
    uai_etablissement: Uai | None = None
    specialites: list[Ligne100] = Field(default_factory=list, max_length=4)
    options: list[Ligne100] = Field(default_factory=list, max_length=6)


class CursusInterneLigne(Message):
    """A year at this university, from its student records (read-only for everybody)."""

    annee_universitaire: AnneeUniversitaire
    code_formation: Ligne40 | None = None
    libelle: Ligne200
    resultat: Ligne40 | None = None
    mention: Ligne40 | None = None


class CursusInterne(Message):
    items: list[CursusInterneLigne] = Field(default_factory=list, max_length=50)


class CursusExterneLigne(Message):
    model_config = ConfigDict(
        json_schema_extra=_by_country(
            "pays", france=(), france_absent=("ville_etranger",), abroad=(), abroad_absent=("departement", "commune")
        )
    )

    annee_universitaire: AnneeUniversitaire = Field(
        description="AAAA-AAAA, deux années consécutives, pas dans le futur"
    )
    etablissement: Ligne150
    pays: CodePays
    departement: CodeDepartement | None = None
    commune: CodeCommune | None = None
    ville_etranger: Ligne100 | None = None
    diplome: Ligne100
    libelle: Ligne200
    obtenu: Literal["oui", "non", "en_cours"]
    mention: Ligne40 | None = None


class CursusExterne(Message):
    items: list[CursusExterneLigne] = Field(max_length=30)


class Stage(Message):
    annee: Annee = Field(description="Pas dans le futur, ni plus de 100 ans en arrière")
    duree: Ligne40 = Field(description="Durée, par exemple « 8 semaines »")
    heures_par_semaine: float | None = Field(default=None, gt=0, le=70)
    organisme: Ligne150
    descriptif: Texte | None = None


class Stages(Message):
    items: list[Stage] = Field(max_length=30)


class ExperienceProfessionnelle(Message):
    annee: Annee = Field(description="Pas dans le futur, ni plus de 100 ans en arrière")
    intitule: Ligne150
    duree: Ligne40
    organisme: Ligne150
    objectif: Texte | None = None


class ExperiencesProfessionnelles(Message):
    items: list[ExperienceProfessionnelle] = Field(max_length=30)


SECTION_MODELS: dict[str, type[Message]] = {
    "informations_personnelles": InformationsPersonnelles,
    "adresse": Adresse,
    "baccalaureat": Baccalaureat,
    "cursus_interne": CursusInterne,
    "cursus_externe": CursusExterne,
    "stages": Stages,
    "experiences_professionnelles": ExperiencesProfessionnelles,
}
WRITABLE_SECTIONS = tuple(s for s in SECTIONS if s != "cursus_interne")


# -- rpc requests -------------------------------------------------------------------------------


class GetDossier(RpcRequest):
    """The whole dossier of `account_id`, as `principal` may see it; with `lisible`, each section
    also comes as people read it (French labels, values in words: the candidature PDF)."""

    service = "dossiers"
    operation = "get_dossier"

    principal: Principal
    account_id: uuid.UUID
    lisible: bool = False


class GetSection(RpcRequest):
    service = "dossiers"
    operation = "get_section"

    principal: Principal
    account_id: uuid.UUID
    section: SectionName


class SaveSection(RpcRequest):
    """Replace one section; exactly one content field is set. `expected_version` is the version
    the caller read (the HTTP `If-Match`): a save based on an older read is refused."""

    service = "dossiers"
    operation = "save_section"

    principal: Principal
    account_id: uuid.UUID
    expected_version: int = Field(ge=0)
    informations_personnelles: InformationsPersonnelles | None = None
    adresse: Adresse | None = None
    baccalaureat: Baccalaureat | None = None
    cursus_externe: CursusExterne | None = None
    stages: Stages | None = None
    experiences_professionnelles: ExperiencesProfessionnelles | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "SaveSection":
        if len(self.given()) != 1:
            raise ValueError("Une et une seule rubrique doit être envoyée.")
        return self

    def given(self) -> list[str]:
        return [s for s in WRITABLE_SECTIONS if getattr(self, s) is not None]

    @property
    def section(self) -> str:
        return self.given()[0]

    @property
    def content(self) -> Message:
        return getattr(self, self.section)


class GetCompleteness(RpcRequest):
    """Asked by the candidatures service before an application: are the required sections complete?"""

    service = "dossiers"
    operation = "completeness"

    account_id: uuid.UUID
    # The formation's own requirements beyond the three sections every application needs.
    exigees: list[RubriqueExigible] = Field(default_factory=list, max_length=len(EXIGIBLE_SECTIONS))


class ImportRegistry(RpcRequest):
    """Load the university's registry of former students from a CSV export (administrators).

    The CSV bytes travel gzip-compressed and base64-encoded so that a few megabytes of CSV fit in
    one NATS message; the service decodes, checks every line and imports all or nothing.
    """

    service = "dossiers"
    operation = "import_registry"

    principal: Principal
    filename: str | None = Field(default=None, max_length=255)
    csv_gzip_base64: str = Field(max_length=900_000)


class GetReferentiels(RpcRequest):
    """Countries and départements, for the forms."""

    service = "dossiers"
    operation = "referentiels"


class SearchCommunes(RpcRequest):
    """French communes by INSEE code, postal code, département and/or the beginning of their name
    (accents ignored)."""

    service = "dossiers"
    operation = "search_communes"

    code: CodeCommune | None = None
    code_postal: CodePostal | None = None
    departement: CodeDepartement | None = None
    nom: Annotated[str, _line(60)] | None = Field(default=None, min_length=2)
    limit: int = Field(default=20, ge=1, le=100)

    @model_validator(mode="after")
    def _one_criterion(self) -> "SearchCommunes":
        if not (self.code or self.code_postal or self.departement or self.nom):
            raise ValueError("Indiquez un code INSEE, un code postal, un département ou le début d'un nom de commune.")
        return self


# -- replies -------------------------------------------------------------------------------------


class CodeLibelle(RpcReply):
    code: str
    nom: str


class Referentiels(RpcReply):
    pays: list[CodeLibelle]
    departements: list[CodeLibelle]
    source: str


class CommuneRef(RpcReply):
    code: str
    nom: str
    departement: str
    type: str
    codes_postaux: list[str]


class Communes(RpcReply):
    items: list[CommuneRef]


class Champ(RpcReply):
    """One field as the form shows it: « Commune de naissance » — « Toulouse »."""

    libelle: str
    valeur: str


class Bloc(RpcReply):
    """A section's fields (`titre` None), or one entry of a list section (« Stage 1 »)."""

    titre: str | None = None
    champs: list[Champ]


class SectionView(RpcReply):
    section: SectionName
    libelle: str
    version: int
    renseignee: bool
    complete: bool
    manquants: list[str] = Field(default_factory=list)
    lecture_seule: bool = False
    motif_lecture_seule: str | None = None
    champs_importes: list[str] = Field(default_factory=list)
    modifiee_le: datetime | None = None
    donnees: dict[str, Any] | None = None
    # Only when asked (`GetDossier.lisible`): the section as people read it.
    lisible: list[Bloc] = Field(default_factory=list)


class Completeness(RpcReply):
    account_id: uuid.UUID
    informations_personnelles: bool
    adresse: bool
    baccalaureat: bool
    complet: bool
    manquants: list[str] = Field(default_factory=list)
    # The sections still to fill, in the dossier's order (`informations_personnelles`, …).
    a_completer: list[str] = Field(default_factory=list)


class DossierView(RpcReply):
    account_id: uuid.UUID
    informations_personnelles_verrouillees: bool
    ine_importe: str | None = None
    completude: Completeness
    sections: list[SectionView]


class IneImport(RpcReply):
    """What the student-records registry brought into the dossier."""

    ine: str
    sections: list[str]


class SectionSaved(RpcReply):
    section: SectionView
    import_ine: IneImport | None = None


class RegistryImportReport(RpcReply):
    lignes: int
    crees: int
    mis_a_jour: int
    inchanges: int
    dossiers_importes: int
