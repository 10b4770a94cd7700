"""Future home of device enrolment: per-device credentials, topic permissions, install bundles."""
