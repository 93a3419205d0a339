"""The rules of the service, free of AWS and HTTP."""
