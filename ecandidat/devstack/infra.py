"""Reusable starters for the infrastructure the platform needs.

Used by the local stack (`python -m ecandidat.devstack up`) and by the test suite. Every server
listens on 127.0.0.1, runs as a child process in its own session (its log in a file) and is
stopped if this process dies. All are context managers (`with NatsServer(...) as nats:`).
"""

from ecandidat.devstack._process import free_port, reachable, wait_port
from ecandidat.devstack.cas import CasServer
from ecandidat.devstack.nats import NatsServer, monitor_ready
from ecandidat.devstack.postgres import (
    PostgresServer,
    database_reachable,
    drop_database,
    ensure_database,
    with_database,
)
from ecandidat.devstack.s3 import S3Server
from ecandidat.devstack.smtpsink import Delivery, SmtpSink

__all__ = [
    "CasServer",
    "Delivery",
    "NatsServer",
    "PostgresServer",
    "S3Server",
    "SmtpSink",
    "database_reachable",
    "drop_database",
    "ensure_database",
    "free_port",
    "monitor_ready",
    "reachable",
    "wait_port",
    "with_database",
]
