"""The web front: server-rendered pages over the public HTTP API (`/api/v1`), run as its own process."""
