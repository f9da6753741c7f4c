"""Channels: the table of channels (`table.py`), the adapters that turn a transport's request into an
`Inbound` and a `Reply` back, and the text conversation that SMS (and Telegram) answer through."""
