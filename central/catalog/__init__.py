"""The catalogue: reference tracks and their fingerprints, imported from a manifest."""
