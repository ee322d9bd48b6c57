"""Torch in eager mode only: our processes never compile, so they need not load torch's compiler.

PyTorch marks some of its own functions "never compile" with ``torch._disable_dynamo``, which imports
``torch._dynamo`` (the compiler's front end) the first time a marked function runs. Every optimizer's
constructor runs one (``Optimizer._patch_step_function``), and so do ``zero_grad``, ``state_dict`` and
``load_state_dict``: the first optimizer a process builds costs about 2 s of CPU (2.1 s in
``python -X importtime`` on this project's 2-core machine, 1.7 s for a first ``torch.optim.Adam``), spent only
to mark those functions for a compiler that never runs. Processes that build a model and never step it paid it
for nothing: ``rl eval`` of a PPO run took 7.2 s and takes 5.1 now, and so gain ``watch``, the game's evaluations
and the start checks of detached runs. A training process loaded it all the same at its first optimizer step:
torch wraps every optimizer's ``step`` in a function that imports ``torch._dynamo`` to put a "graph break"
around the update, which does nothing outside compiled code. Without it, ``playground rl train ppo CartPole-v1
--steps 256`` takes 3.1 s of CPU instead of 4.3 (user and system, twice each, on the 2-core machine).
:func:`skip_compiler_import` gives those classes a ``step`` that does what torch's wrapper does in eager mode (grad
off unless the optimizer is differentiable) without the import.

Nothing in the project calls ``torch.compile``. :func:`skip_compiler_import` records, on each function torch
wrapped that way in its optimizers, that its "never compile" version is the function itself, which is exactly
what it is when nothing compiles. If torch renames what it looks up, the functions keep working and the
import simply comes back (``tests/test_eager.py`` then says so). A process that does import ``torch._dynamo``
(a user's own ``torch.compile`` after ours) finds the marks harmless outside compiled code; inside compiled
code the optimizer's bookkeeping would be traced rather than skipped, which is why the project itself must
stay compile-free while this module is used.
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable
from typing import Any

import torch

_CACHE_ATTRIBUTE = "__dynamo_disable"  # where torch._compile._disable_dynamo keeps a function's disabled version


def _wrapper_code(maker: object) -> set[types.CodeType]:
    """The code of the wrappers a decorator ``maker`` defines inside itself (none if torch renamed or changed it)."""
    code = getattr(maker, "__code__", None)
    return {c for c in (code.co_consts if code else ()) if isinstance(c, types.CodeType)}


def _eager_step(step: Callable[..., Any]) -> Callable[..., Any]:
    """torch's ``step`` wrapper without its graph breaks: the update runs with grad off (on for a differentiable
    optimizer), and grad mode is as it was afterwards."""

    @functools.wraps(step)
    def eager_step(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        previous = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(self.defaults["differentiable"])
            return step(self, *args, **kwargs)
        finally:
            torch.set_grad_enabled(previous)

    return eager_step


def _optimizer_classes() -> list[type]:
    found, todo = [], [torch.optim.Optimizer]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def skip_compiler_import() -> int:
    """Mark torch's optimizer functions as already "never compile" and give their classes a ``step`` without graph
    breaks; returns how many functions it changed."""
    if "torch._dynamo" in sys.modules:
        return 0  # already loaded: nothing left to save, and torch's own marks are in place
    # what torch._disable_dynamo puts around a function, and what torch puts around each optimizer's step
    wrapper_code = _wrapper_code(getattr(getattr(torch, "_compile", None), "_disable_dynamo", None))
    step_code = _wrapper_code(getattr(sys.modules.get("torch.optim.optimizer"), "_use_grad_for_differentiable", None))
    marked = 0
    for cls in _optimizer_classes():
        step = vars(cls).get("step")
        inner_step = getattr(step, "__wrapped__", None)
        if getattr(step, "__code__", None) in step_code and inner_step is not None:
            cls.step = _eager_step(inner_step)  # type: ignore[attr-defined]
            marked += 1
        for attribute in vars(cls).values():
            function = getattr(attribute, "__func__", attribute)  # staticmethod and classmethod hold one
            inner = getattr(function, "__wrapped__", None)
            if getattr(function, "__code__", None) in wrapper_code and inner is not None:
                if getattr(inner, _CACHE_ATTRIBUTE, None) is None:
                    setattr(inner, _CACHE_ATTRIBUTE, inner)
                    marked += 1
    return marked


skip_compiler_import()
