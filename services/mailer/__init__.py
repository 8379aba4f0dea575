"""Mailer: renders French mails for mail-worthy events and delivers each exactly once."""
