"""API Gateway plumbing: the resolver, authentication, parameters, pagination, errors, entities."""
