"""Use cases: each takes validated input and the caller, applies the domain rules, and calls repositories."""
