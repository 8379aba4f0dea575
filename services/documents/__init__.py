"""The documents service: piece slots, deposited files, templates and generated PDFs."""
