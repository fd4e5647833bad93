"""Platform-neutral chat: commands written once, their parsing, views, charts and rate limit."""
