"""The REST API: thin views over the core runtime, one module per concern."""
