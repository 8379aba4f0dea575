"""A real CAS 3.0 server for the local stack and the tests: django-cas-server (PyPI) in a minimal
Django project, with a test user directory (`users.json`) instead of the university's LDAP.

`python -m ecandidat.devstack.casserver --port 8443 --dir .state/cas --service '^http://127\\.0\\.0\\.1:8080/.*'`
migrates its SQLite database in `--dir`, registers the eCandidat service (the regex of its
service URLs) with the attributes to release (mail, sn, givenName, supannCodeINE, single logout
on), then serves `/cas/login`, `/cas/logout`, `/cas/p3/serviceValidate`… on 127.0.0.1.
`ecandidat.devstack.cas.CasServer` runs it as a child process.
"""
