"""The web front's language: the English catalogue is complete, dates are written the French way
in Paris time, and every template compiles."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from web import i18n
from web.render import environment


@pytest.fixture
def english():
    token = i18n.set_language("en")
    yield
    i18n.reset_language(token)


def test_every_message_of_the_code_and_templates_has_its_english_translation():
    assert i18n.untranslated("en") == []
    assert len(i18n.extract()) > 250  # the check reads the templates and the code, not nothing


def test_deadlines_are_written_as_french_people_write_them():
    assert i18n.until(date(2026, 12, 10)) == "jusqu'au 10\u00a0décembre 2026 inclus"
    assert i18n.date_long("2027-02-01") == "1er\u00a0février 2027"
    # A deadline stored at 23:30 UTC on 9 December is already the 10th in Paris.
    assert i18n.until(datetime(2026, 12, 9, 23, 30, tzinfo=timezone.utc)) == "jusqu'au 10\u00a0décembre 2026 inclus"
    assert i18n.datetime_long(datetime(2026, 7, 1, 12, 5, tzinfo=timezone.utc)) == "1er\u00a0juillet 2026 à 14:05"


def test_the_english_switch_translates_messages_and_dates(english):
    assert i18n.gettext("Mes candidatures") == "My applications"
    assert i18n.until(date(2026, 12, 10)) == "until 10 December 2026 inclusive"
    assert (
        i18n.gettext("Voulez-vous candidater à la formation '%(formation)s' ?", formation="DAEU option A")
        == "Do you want to apply to the programme 'DAEU option A'?"
    )


def test_every_template_compiles():
    env = environment()
    names = env.list_templates(extensions=["html"])
    assert len(names) > 25
    for name in names:
        env.get_template(name)


def test_a_template_plural_fills_its_own_placeholders_in_either_language(english):
    env = environment()
    message = (
        "%(num)d événement en échec en tout : la liste montre les %(per)d plus récents de chaque service. "
        "Une fois ceux-ci rejoués, les suivants apparaissent."
    )
    source = "{{ ngettext(one, many, n, per=200) }}"
    many = message.replace("événement", "événements", 1)
    rendered = env.from_string(source).render(one=message, many=many, n=230)
    assert rendered.startswith("230 events in failure in all: the list shows the 200 most recent"), rendered
    token = i18n.set_language("fr")
    try:
        rendered = env.from_string(source).render(one=message, many=many, n=1)
        none = env.from_string(source).render(one=message, many=many, n=0)
        two = env.from_string(source).render(one=message, many=many, n=2)
    finally:
        i18n.reset_language(token)
    assert rendered.startswith("1 événement en échec en tout\u00a0: la liste montre les 200 plus récents"), rendered
    assert none.startswith("0 événement en échec") and two.startswith("2 événements en échec"), (none, two)


def test_french_pages_keep_a_colon_or_a_guillemet_with_its_words_and_form_fields_as_typed(english):
    env = environment()
    source = (
        "<p>{{ _('Séparateur « %(sep)s » : %(n)s', sep=sep, n=n) }}</p><p>{{ description }}</p>"
        "<p>{{ _('Pièce « %(piece)s »', piece=description) }}</p>"
        "<p>{% trans piece=description %}Pièce « {{ piece }} »{% endtrans %}</p>"
        '<input value="{{ description|as_typed }}"><textarea>{{ description|as_typed }}</textarea>'
    )
    token = i18n.set_language("fr")
    try:
        french = env.from_string(source).render(sep=";", n=3, description="Bénéficiaires du RSA : attestation ; <b>")
        statut = i18n.gettext("Statut : %(statut)s", statut="complet")
    finally:
        i18n.reset_language(token)
    # the page's words and a value it shows (the university's description of a piece) are typeset,
    # escaped as any text; what goes back into a form field is what the person typed
    assert french == (
        "<p>Séparateur «\u00a0;\u00a0»\u00a0: 3</p><p>Bénéficiaires du RSA\u00a0: attestation\u00a0; &lt;b&gt;</p>"
        "<p>Pièce «\u00a0Bénéficiaires du RSA\u00a0: attestation\u00a0; &lt;b&gt;\u00a0»</p>"
        "<p>Pièce «\u00a0Bénéficiaires du RSA\u00a0: attestation\u00a0; &lt;b&gt;\u00a0»</p>"
        '<input value="Bénéficiaires du RSA : attestation ; &lt;b&gt;">'
        "<textarea>Bénéficiaires du RSA : attestation ; &lt;b&gt;</textarea>"
    ), french
    assert statut == "Statut\u00a0: complet"
    # English, and a message without such spaces, come out as they are
    assert env.from_string("{{ _('Accueil') }}").render() == "Home"
    assert i18n.gettext("Time: 14:30") == "Time: 14:30"


def _flash(cookie: str) -> tuple[str, str] | None:
    from aiohttp.test_utils import make_mocked_request

    from web.session import FLASH_COOKIE, take_flash

    return take_flash(make_mocked_request("GET", "/", headers={"Cookie": f"{FLASH_COOKIE}={cookie}"}))


def test_a_flash_that_counts_says_its_number_in_the_singular_or_the_plural():
    assert _flash("statut_change:1") == ("success", "Statut du dossier changé pour 1 candidature.")
    assert _flash("statut_change:20") == ("success", "Statut du dossier changé pour 20 candidatures.")
    assert _flash("prolongation_appliquee:1") == (
        "success",
        "Prolongation enregistrée\u00a0: 1 candidature prolongée, son candidat est prévenu par courriel.",
    )
    # A count a person changed in their own cookie chooses a form and is shown as it came.
    assert _flash("decisions_validees:beaucoup")[1].startswith("Décision validée pour beaucoup candidature")
    token = i18n.set_language("en")
    try:
        assert _flash("decisions_validees:1") == (
            "success",
            "Decision validated for 1 application: the candidate is notified.",
        )
        assert _flash("decisions_validees:3") == (
            "success",
            "Decisions validated for 3 applications: the candidates are notified.",
        )
    finally:
        i18n.reset_language(token)


def test_a_dossier_section_is_named_in_the_page_s_language_and_an_unknown_one_keeps_its_key(english):
    env = environment()
    source = "{{ sections|map('rubrique')|join(', ') }}"
    sections = ["experiences_professionnelles", "stages", "rubrique_future"]
    assert env.from_string(source).render(sections=sections) == "Work experience, Internships, rubrique_future"
    token = i18n.set_language("fr")
    try:
        rendered = env.from_string(source).render(sections=sections)
    finally:
        i18n.reset_language(token)
    assert rendered == "Expériences professionnelles, Stages, rubrique_future"
