"""Shortcode runtime: the pure dialogue engine (`engine/`), the channels (`channels/`), the dispatcher,
sessions and the web app; `tools/` holds the command line and the testers' tools apart from it."""
