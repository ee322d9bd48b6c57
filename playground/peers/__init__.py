"""Plain reference implementations that benchmarks run beside ours (``playground bench``).

Each is written the way a tutorial or the authors' code writes it, with no playground in it, so
a ratio against it says what our platform costs or saves.
"""
