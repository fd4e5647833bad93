"""cyclewatch application: config, store, scheduler, pipeline, notifiers, chat, CLI."""
