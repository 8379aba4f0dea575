"""Mail templates: French, text and HTML, escaped, one-line subjects."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from jinja2 import UndefinedError

from services.mailer.catalogue import load
from services.mailer.render import Renderer, date_fr


def test_every_composed_template_exists():
    renderer = Renderer()
    assert load(), "no composer registered"
    assert "mail_check" in renderer.templates()


def test_dates_are_written_in_paris_time():
    assert date_fr(datetime(2022, 6, 20, 21, 59, tzinfo=timezone.utc)) == "20/06/2022 à 23:59"
    assert date_fr(datetime(2022, 1, 20, 21, 59, tzinfo=timezone.utc), with_time=False) == "20/01/2022"


def test_html_is_escaped_and_text_is_not():
    rendered = Renderer().render(
        "mail_check",
        {
            "requested_by": "<b>Zoé</b> & Cie",
            "requested_at": datetime(2026, 1, 2, tzinfo=timezone.utc),
            "base_url": "http://x",
        },
    )
    assert "&lt;b&gt;Zoé&lt;/b&gt; &amp; Cie" in rendered.html
    assert "<b>Zoé</b> & Cie" in rendered.text
    assert "\n" not in rendered.subject


def test_a_missing_variable_is_an_error_not_a_blank():
    with pytest.raises(UndefinedError):
        Renderer().render("mail_check", {"requested_by": "x"})
