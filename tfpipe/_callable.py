"""Let a CLI module double as the function it is named after.

``python -m tfpipe.convert`` needs a *module* called ``tfpipe.convert``, and
``tfpipe.convert(source, out)`` needs a *function* of the same name. Python
sets ``tfpipe.convert`` to the module as soon as anything imports it, so the
module itself is made callable and forwards to the function.
"""

from __future__ import annotations

import sys
import types


def make_callable(module_name: str, function) -> None:
    module = sys.modules[module_name]
    if module_name == "__main__":
        return

    class CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return function(*args, **kwargs)

    CallableModule.__call__.__doc__ = function.__doc__
    CallableModule.__call__.__signature__ = __import__("inspect").signature(function)
    module.__class__ = CallableModule
