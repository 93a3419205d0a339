"""Cluster Agents API: GitLab's Agents API for Kubernetes on Lambda, DynamoDB and KMS.

Layout: ``domain`` holds the rules and models (no AWS), ``store`` the DynamoDB/KMS adapters,
``web`` the API Gateway plumbing (authentication, parameters, pagination, error mapping,
GitLab's JSON entities). Function modules under ``functions/`` only wire routes to them."""
