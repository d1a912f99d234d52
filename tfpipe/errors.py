"""Error policy, in one place.

Two kinds of failure exist in tfpipe:

* :class:`TfpipeError` -- the user asked for something that cannot be done
  (missing source, bad option, unreadable output directory...). The CLI prints
  its message as a single line and exits non-zero; no traceback.
* :class:`Rejected` -- one *input* (an image, a CSV row, a URL) is bad. The
  conversion stage that sees it applies the ``on_error`` policy exactly once:
  ``"quarantine"`` records it in ``quarantine.jsonl`` and goes on,
  ``"raise"`` stops the run with a :class:`TfpipeError` naming the input.
"""

from __future__ import annotations

ON_ERROR_CHOICES = ("quarantine", "raise")


class TfpipeError(Exception):
    """A user-facing error whose message is one readable line."""


class Rejected(Exception):
    """One input could not be converted.

    Args:
        category: short, countable reason ("undecodable image", "http 404",
            "non-numeric cell", "duplicate", "leak", ...). Summaries group by it.
        detail: the human explanation, e.g. ``'non-numeric cell "fwefew" in column pixel5'``.
    """

    def __init__(self, category: str, detail: str | None = None):
        self.category = category
        self.detail = detail or category
        super().__init__(self.detail)


def summarize(rejections) -> str:
    """``"48 x connection error, 2 x http 404 (first: <origin>: <reason>)"`` for one-line errors."""
    from collections import Counter

    if not rejections:
        return "nothing was found to convert"
    counts = Counter(rej.category for _, _, rej in rejections)
    origin, _, first = rejections[0]
    parts = ", ".join(f"{n} x {category}" for category, n in counts.most_common())
    return f"{parts} (first: {origin}: {first.detail})"


def check_choice(field: str, value: object, choices: tuple) -> None:
    """Raise a TfpipeError naming ``field`` when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise TfpipeError(f"{field}: {value!r} is not one of {', '.join(map(str, choices))}")


class ShardError(TfpipeError):
    """A shard file is missing, truncated or corrupt; ``path`` names it.

    Raised by :func:`tfpipe.load` before any reading (a shard is missing or
    not the size ``tfpipe.json`` says) and by :func:`tfpipe.shards.raise_for`.
    Damage found *while* reading surfaces from TensorFlow (inside
    ``model.fit`` too) as ``tf.errors.InvalidArgumentError`` whose message
    names the shard file: see :mod:`tfpipe.read`.
    """

    def __init__(self, path: str, message: str, problems: tuple = ()):
        self.path = path
        self.problems = problems
        super().__init__(message)
