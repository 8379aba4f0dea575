"""Accounts: candidate and staff accounts, sessions, login throttling, activation purge."""
