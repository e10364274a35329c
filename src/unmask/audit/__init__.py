"""Independent audits: commitments to private items, verifiable and signed reports, bundles (docs/audits.md)."""
