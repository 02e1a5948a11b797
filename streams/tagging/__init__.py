"""Domain tagging of redacted feedback: domains, scores, themes, sentiment and evidence.

Public face (the stream agents code against it)::

    tagger = Tagger.default()
    tags = tagger.tag(text, source, category_codes)
    tagger.tag_many([(text, source, codes), ...])
"""

from __future__ import annotations

from streams.tagging.tagger import TAGGER_VERSION, Tagger, Tags

__all__ = ["TAGGER_VERSION", "Tagger", "Tags"]
