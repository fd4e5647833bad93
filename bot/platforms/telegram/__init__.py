"""Telegram: the notifier (Bot API) and the front end (polling or webhook)."""
