"""`zamio demo`: the whole pipeline in one command, on the embedded defaults.

synth.py makes music and a presenter from a seed; programme.py (pure) lays out the catalogue and a
station's broadcast with its ground truth; run.py drives real parts (an SQLite database, the
embedded MQTT broker, the ingest listener, inline jobs, a `zamio-agent` process) and report.py
turns what they stored into the closing report.
"""
