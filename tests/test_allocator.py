"""agents/allocator.py: a process that trains keeps the memory its steps free, so the next step does not fault the
same pages in again. Checked in fresh interpreters, one with glibc's defaults and one that imported
``agents.precision`` as every training process does: where glibc puts a step-sized block, and the page faults of
repeated steps."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from typing import Any

import pytest

# mallinfo2's hblks counts the blocks glibc has mapped on their own. A "step" makes three 8 MiB tensors at once,
# writes them and frees them: a step's temporaries in miniature; the first two steps fault in any case.
PROBE = """
import ctypes, json, resource, sys, torch
if sys.argv[1] == "training":
    import agents.precision  # what agents/dqn.py and agents/sb3.py import before they build a network
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
def mapped(mib):
    before = libc.mallinfo2().hblks
    block = torch.empty(mib << 18)
    return libc.mallinfo2().hblks - before
def step():
    blocks = [torch.empty(2 << 20).fill_(1.0) for _ in range(3)]
    del blocks
if sys.argv[2] == "blocks":
    print(json.dumps([mapped(16), mapped(64)]))
else:
    step(); step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
PAGES_PER_STEP = 3 * (8 << 20) // 4096


def _probe(kind: str, what: str) -> Any:
    """``blocks``: whether a 16 MiB and a 64 MiB block were mapped on their own (1) or not (0), first thing in the
    interpreter; ``steps``: the minor page faults of ten steps after two."""
    out = subprocess.run([sys.executable, "-c", PROBE, kind, what], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_a_training_process_keeps_what_its_steps_free_instead_of_faulting_it_in_again() -> None:
    from agents.allocator import keep_freed_memory

    assert keep_freed_memory() is True  # glibc took both settings
    # glibc's defaults map a 16 MiB block on its own and hand it back when freed; a training process takes it from
    # the heap it keeps. Past 32 MiB both map (replay memories are returned whole).
    assert _probe("plain", "blocks") == [1, 1]
    assert _probe("training", "blocks") == [0, 1]
    # Ten steps then fault in less than two steps' pages (6,144 a step) where each step would otherwise fault in up
    # to all of its own (at glibc's defaults, 4,000 to 49,000 over ten steps here, depending on where the heap's
    # top falls; 0 to 8,192 kept).
    assert _probe("training", "steps") < 2 * PAGES_PER_STEP
