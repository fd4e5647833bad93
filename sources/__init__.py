"""Source adapters: one file per data source, all behind sources.base.Source."""
