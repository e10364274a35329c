"""Known-answer validation: each organism's acceptance figures, and the battery x model detection matrix."""
