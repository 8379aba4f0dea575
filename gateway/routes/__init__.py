"""Route modules of the gateway, one per resource."""
