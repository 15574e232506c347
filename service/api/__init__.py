"""Transports: convert wire <-> domain types and delegate to the core. No logic here."""
