"""Stations and the devices (edge agents) that listen to them, with their broker credentials."""
