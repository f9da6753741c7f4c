"""Channel adapters: each turns its transport's request into an `Inbound` and a `Reply` back."""
