"""Stages 1–2: sources are polled on the release calendar and what they return is stored."""
