"""The runtime kit every service runs on: settings, logging, PostgreSQL, NATS, rpc, outbox, consumers."""
