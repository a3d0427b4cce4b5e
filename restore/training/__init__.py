"""Training loops and the infrastructure they share (recipes, checkpoints, DDP, export)."""
