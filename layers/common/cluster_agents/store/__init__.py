"""DynamoDB and KMS adapters: one repository per aggregate, AWS errors turned into domain errors."""
