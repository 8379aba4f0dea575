"""Accounts settings (environment variables).

| variable | default | meaning |
|---|---|---|
| ACCOUNTS_CAMPAIGN_PREFIX | 26 | 2 characters starting every numéro de dossier (the campaign's) |
| ACCOUNTS_CAMPAIGN_LABEL | eCandidat 2026 | the campaign as mails name it ("Campagne eCandidat 2026") |
| ACCOUNTS_ACTIVATION_HOURS | 48 | hours to activate an account before it is destroyed |
| ACCOUNTS_RESET_HOURS | 2 | validity of a password-reset link |
| ACCOUNTS_EMAIL_CONFIRM_HOURS | 48 | validity of the link confirming a new email address |
| ACCOUNTS_STAFF_SETUP_HOURS | 72 | validity of a staff member's set-up (invitation) link |
| ACCOUNTS_SESSION_IDLE | 1800 | seconds without a request after which a session ends |
| ACCOUNTS_SESSION_LIFETIME | 43200 | seconds after which a session ends whatever happens |
| ACCOUNTS_THROTTLE_FREE | 5 | failed logins allowed to one client (its known device, else its address) on one account before its delays start |
| ACCOUNTS_THROTTLE_FREE_ACCOUNT | 20 | failed logins allowed on one account from all its unknown clients together before unknown clients are slowed (known devices never are) |
| ACCOUNTS_THROTTLE_FREE_CLIENT | 300 | failed logins allowed from one client address, all accounts together, before its unknown clients are slowed (a campus NAT shares one address; successes never count) |
| ACCOUNTS_THROTTLE_WINDOW | 3600 | seconds in which each budget is forgotten: one failure every WINDOW / FREE seconds |
| ACCOUNTS_THROTTLE_BASE | 1 | first delay in seconds, doubled at each further failure |
| ACCOUNTS_THROTTLE_MAX_PAIR | 3600 | longest delay of one client on one account (an attacker's own delay) |
| ACCOUNTS_THROTTLE_MAX_ACCOUNT | 60 | longest delay of an account's unknown clients (kept short: a victim without a known device is slowed, never locked out) |
| ACCOUNTS_THROTTLE_MAX_CLIENT | 60 | longest delay of the unknown clients of one address |
| ACCOUNTS_DEVICE_DAYS | 365 | days a device stays known to an account after its last login there (the device cookie's lifetime) |
| ACCOUNTS_MAIL_REQUESTS_PER_HOUR | 5 | lost-link mails (activation, credentials, "vous avez déjà un compte") sent to one address per hour and kind; more are silently dropped |
| ACCOUNTS_CREATIONS_PER_HOUR_CLIENT | 60 | account creations accepted from one client address per hour (429 beyond) |
| ACCOUNTS_HASH_WORKERS | number of cores | threads hashing passwords (argon2id), off the event loop |
| ACCOUNTS_HASH_NICENESS | 5 | scheduling niceness of the hashing threads (0: as the rest), so that other requests go first |
| ACCOUNTS_HASH_MEMORY_KIB / _TIME / _PARALLELISM | 19456 / 2 / 1 | argon2id cost (OWASP: 19 MiB, t=2, p=1 at least) |
| ACCOUNTS_PURGE_INTERVAL | 300 | seconds between two runs of the purge of unactivated accounts |
| ENT_ENABLED | false | offer "Connexion via l'ENT" (CAS 3.0); the local stack turns it on with its own CAS server |
| ENT_CAS_URL | (none) | base URL of the university's CAS server (`https://cas.univ.example/cas`: `/login`, `/p3/serviceValidate` are under it) |
| ENT_TIMEOUT | 4 | seconds the ticket validation may take before the login is refused as "ENT indisponible" |
| ENT_ATTRIBUTE_MAIL / _NOM / _PRENOM / _INE | mail / sn / givenName / supannCodeINE | names of the attributes the CAS releases (SUPANN by default); mail and names are required, the INE optional |
| ENT_LINK_MINUTES | 15 | time the owner of an existing account has to prove its password and link it to the ENT |
| LINK_SEALING_KEY | the development key | Fernet key(s) sealing link tokens in events; shared with the mailer |
| PUBLIC_BASE_URL | http://localhost:8080 | base of the links (printed by `ecandidat create-admin`) |
| DATABASE_URL, NATS_URL, ... | | as for every service |

ENT_ENABLED without ENT_CAS_URL is refused at start. The CAS server must release the attributes
to the service URL `<PUBLIC_BASE_URL>/api/v1/ent/retour` (docs/ENT.md).

Login throttling is described in `services/accounts/throttle.py`.

LINK_SEALING_KEY defaults to `ecandidat.runtime.sealing.DEV_SEALING_KEY`, a published key that
makes the local stack and the tests work without configuration; the service refuses it when
PUBLIC_BASE_URL is `https://`. Generate a key with `python -m ecandidat.runtime.sealing`.
"""

from __future__ import annotations

import os

from pydantic import Field, model_validator

from ecandidat.runtime.sealing import DEV_SEALING_KEY
from ecandidat.runtime.settings import KitSettings


class AccountsSettings(KitSettings):
    accounts_campaign_prefix: str = Field(default="26", pattern="^[0-9A-Z]{2}$")
    accounts_campaign_label: str = "eCandidat 2026"
    accounts_activation_hours: float = Field(default=48.0, gt=0)
    accounts_reset_hours: float = Field(default=2.0, gt=0)
    accounts_email_confirm_hours: float = Field(default=48.0, gt=0)
    accounts_staff_setup_hours: float = Field(default=72.0, gt=0)
    accounts_session_idle: int = Field(default=1800, gt=0)
    accounts_session_lifetime: int = Field(default=43200, gt=0)
    accounts_throttle_free: int = Field(default=5, ge=0)
    accounts_throttle_free_account: int = Field(default=20, ge=1)
    accounts_throttle_free_client: int = Field(default=300, ge=1)
    accounts_throttle_window: float = Field(default=3600.0, gt=0)
    accounts_throttle_base: float = Field(default=1.0, gt=0)
    accounts_throttle_max_pair: float = Field(default=3600.0, gt=0)
    accounts_throttle_max_account: float = Field(default=60.0, gt=0)
    accounts_throttle_max_client: float = Field(default=60.0, gt=0)
    accounts_device_days: int = Field(default=365, ge=1, le=400)
    accounts_mail_requests_per_hour: int = Field(default=5, ge=1)
    accounts_creations_per_hour_client: int = Field(default=60, ge=1)
    accounts_hash_workers: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1)
    accounts_hash_niceness: int = Field(default=5, ge=0, le=19)
    accounts_hash_memory_kib: int = Field(default=19456, ge=19456)
    accounts_hash_time: int = Field(default=2, ge=2)
    accounts_hash_parallelism: int = Field(default=1, ge=1)
    accounts_purge_interval: float = Field(default=300.0, gt=0)
    ent_enabled: bool = False
    ent_cas_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    ent_timeout: float = Field(default=4.0, gt=0, le=30)
    ent_attribute_mail: str = "mail"
    ent_attribute_nom: str = "sn"
    ent_attribute_prenom: str = "givenName"
    ent_attribute_ine: str = "supannCodeINE"
    ent_link_minutes: float = Field(default=15.0, gt=0)
    link_sealing_key: str = DEV_SEALING_KEY
    public_base_url: str = "http://localhost:8080"

    @model_validator(mode="after")
    def _ent_needs_a_server(self) -> "AccountsSettings":
        if self.ent_enabled and not self.ent_cas_url:
            raise ValueError("ENT_ENABLED=true needs ENT_CAS_URL (the university's CAS server)")
        return self
