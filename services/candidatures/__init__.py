"""Candidatures: campaigns, the offer (centres, types, formations, pieces) and candidatures."""
