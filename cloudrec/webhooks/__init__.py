"""Webhook delivery of callbacks (spec §15): configuration, signed requests, a deliverer that
follows the event log and records every attempt in it."""
