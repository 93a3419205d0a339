"""Developer tooling: the template-driven local AWS, the local API server, seeding. Never deployed."""
