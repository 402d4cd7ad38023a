"""Task data with exact ground truth, the same for every implementation (stdlib only)."""
