"""What to ask: suites, frames (cues), settings, probe sets, and the Inspect samples they cross into."""
