"""The playground platform: store, runs, jobs, environments, CLI, UI, viewer and game."""

__version__ = "0.1.0"
