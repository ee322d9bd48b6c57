"""The pygame viewer: watch an agent play (and follow a run while it learns), play a game yourself,
duel an agent, watch a GAN improve.

Every feature keeps a pure *session* (the game, the agent, what the HUD shows; ``step()`` returns
the next frame) apart from the pygame loop that shows it, so a desktop window, a headless
recording and the tests all drive the same code.

- ``watch.py``    ``playground watch``: the loop, follow mode, recording and the summary
- ``gan_watch.py`` ``playground gan watch``: a GAN's grid or triples, the latent walk, its panel
- ``common.py``   what the loops share: option checks, waiting for a first checkpoint, screenshots
- ``session.py``  an agent playing game after game (no pygame)
- ``follow.py``   which checkpoint to play next while a run trains
- ``hud.py``      drawing: the game, the side panel, bars, sparkline, curve, help, agent's view
- ``controls.py`` the watch keys (pause, step, speed, restart, screenshot, help, inset, quit)
- ``keyboard.py`` keys to actions for people: the game's own mapping, live or scripted input
- ``play.py``     ``playground play``: a person plays, the score is stored
- ``duel.py``     ``playground duel``: a person and an agent play the same game side by side
- ``display.py``  window or headless screen, display detection
- ``record.py``   MP4 (imageio + imageio-ffmpeg) and GIF (pillow) files, written atomically
"""

from __future__ import annotations

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame's banner would land in the CLI's stdout
