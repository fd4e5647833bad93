"""Slack: the notifier (Web API) and the front end (Socket Mode, signed slash commands)."""
