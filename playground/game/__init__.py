"""The game: challenges, tiers, achievements and leaderboards, built on the store's evidence."""
