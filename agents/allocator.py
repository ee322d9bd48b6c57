"""Keep the memory one gradient step frees for the next step, instead of handing it back to the system each time.

torch takes CPU tensors from the C library's malloc. glibc serves a block at or above its mmap threshold (128 KiB at
first, then raised to the largest such block freed so far) with pages of its own from the system, returned when the
block is freed, and it hands the top of its heap back once more than twice that threshold lies free there. A step
that makes many large temporaries at once frees more than that together: Rainbow's noisy layers build their 512 x
3,136 weights (6.4 MB each) in every forward pass, three passes a step, and autocast casts each of them. So every
step asked the system for the same pages again, and the kernel zeroes each page on its first touch: 5,100 to 5,500
page faults per Rainbow gradient step at glibc's defaults on a 2-core Zen 4 EPYC, about 300 with the settings
below, and the step took 34-36 ms instead of 41-43 ms (the bench's Rainbow on Pong, in one process: rounds at
glibc's defaults first, then with these settings; ``docs/benchmarks.md``). DQN's and PPO's steps, which fault
little, measured the same either way.

Blocks under 32 MiB (glibc's largest threshold on 64-bit) come from the heap, and up to 256 MiB of free heap is
kept. Larger blocks (replay memories) are still mapped and returned whole, so what a process keeps is bounded by
what its steps hold at once, plus 256 MiB.
"""

from __future__ import annotations

import ctypes
import platform

MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20
# mallopt's parameter numbers, from glibc's <malloc.h>
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Apply both settings to this process where its C library is glibc; whether they took (elsewhere, macOS or
    musl, nothing changes)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
