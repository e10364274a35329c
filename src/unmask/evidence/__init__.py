"""From Inspect logs to evidence: the one log reader, flat records, the one pairing engine, the manifest."""
