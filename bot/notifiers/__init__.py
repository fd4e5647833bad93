"""Delivery back ends: one file per platform, all behind `bot.notifiers.base.Notifier`."""
