"""Stages 4–8: events become outbox rows (route, mute, dedup, enqueue), then are claimed,
rendered and sent."""
