"""Goals, achievements and attributions (the goals engine issue fills this app)."""
