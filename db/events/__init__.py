"""Task events: the outbox (audit entries in commit order), its per-process fan-out and the
wake-ups that tell the fan-out when to read. Knows no GraphQL."""
