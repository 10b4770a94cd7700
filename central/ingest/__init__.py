"""Ingest: batches from the broker, checked, stored once per (device, source, seq) or refused."""
