"""Device and stream health: the agents' heartbeats and health events, stored and judged."""
