"""gradref reference core."""
