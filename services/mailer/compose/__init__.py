"""Composers of the mails, one module per producing service; importing them registers them."""
