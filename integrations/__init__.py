"""The outside world: each partner is a Protocol the flows depend on plus a simulated implementation."""
