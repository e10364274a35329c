"""Anti-deception batteries beyond the compliance gap; importing this package registers their tasks."""
