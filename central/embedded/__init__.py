"""The embedded defaults: what stands in for Redis and the MQTT broker when none is configured.

With no ZAMIO_REDIS_URL, jobs run inline: RQ's synchronous mode, on an in-memory Redis (fakeredis)
of this process (inline.py). With no ZAMIO_MQTT_URL, `zamio ingest` starts an MQTT broker
(amqtt, MQTT 3.1.1) inside its own process (broker.py). The code paths above them are the ones
production runs: the same listener, the same enqueue calls, the same jobs.
"""
