"""The HTTP edge: authentication, validation, HTTP ↔ NATS translation, OpenAPI. Stateless."""
