"""The logger service: writes predictions, feedback and review items to DynamoDB, idempotently."""
