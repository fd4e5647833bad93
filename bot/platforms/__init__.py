"""One folder per chat platform (notifier + front end), found through the registry."""
