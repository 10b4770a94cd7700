"""ZamIO edge agent: capture radio, fingerprint it, uplink hash batches; imports nothing here."""
