"""Shortcode runtime: the dialogue engine, sessions, channels, web app and command line."""
