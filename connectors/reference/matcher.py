"""Finding organisation names in free text: a token trie, built once, walked once per post.

On the social-media hot path every post is checked against every provider, site and practice
name. Normalising the post into tokens and walking a trie of name token sequences costs one
dict lookup per word (plus a few for words that start a name), whatever the number of names;
hashtags and handles are a dict lookup each. Measured with 9,750 synthetic organisations and
20,000 posts of 10-50 words on this 2-core machine: the trie 21,000 posts/s; one compiled
`re` alternation of the same 6,467 keys over the normalised text 155 posts/s, same hits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from connectors.reference.model import Organisation
from connectors.reference.names import tokens

_END: Final = ""  # trie key marking "a name ends here"; real tokens are never empty
_TAG: Final = re.compile(r"(?<![\w#@])([#@])([\w][\w.\-]*(?:@[\w.\-]+)?)")
SPECIFICITY: Final[dict[str, int]] = {"site": 0, "gp_practice": 1, "trust": 2}


class MentionIndex:
    def __init__(
        self,
        names: Mapping[tuple[str, ...], Organisation],
        hashtags: Mapping[str, Organisation],
        handles: Mapping[str, Organisation],
    ) -> None:
        self._trie: dict = {}
        for key, organisation in names.items():
            node = self._trie
            for word in key:
                node = node.setdefault(word, {})
            node[_END] = organisation
        self._hashtags = {tag.casefold(): org for tag, org in hashtags.items()}
        self._handles = {handle.casefold(): org for handle, org in handles.items()}

    def _tagged(self, text: str) -> Iterable[tuple[int, Organisation]]:
        if "#" not in text and "@" not in text:
            return
        for match in _TAG.finditer(text):
            sigil, body = match.group(1), match.group(2).casefold().rstrip(".-")
            if sigil == "#":
                found = self._hashtags.get(body)
            else:
                # @name, @name.bsky.social, @name@instance.social: try the full handle, then its first label.
                found = self._handles.get(body) or self._handles.get(re.split(r"[.@]", body, maxsplit=1)[0])
            if found is not None:
                yield match.start(), found

    def find(self, text: str) -> list[Organisation]:
        """Organisations named in `text`, most specific (site, practice, trust) first, then by position."""
        hits: dict[str, tuple[int, int, Organisation]] = {}

        def note(position: int, organisation: Organisation) -> None:
            rank = (SPECIFICITY[organisation.kind], position)
            known = hits.get(organisation.code)
            if known is None or rank < known[:2]:
                hits[organisation.code] = (*rank, organisation)

        for position, organisation in self._tagged(text):
            note(position, organisation)
        words = tokens(text)
        trie = self._trie
        index, count = 0, len(words)
        while index < count:
            node = trie.get(words[index])
            if node is None:
                index += 1
                continue
            longest: tuple[int, Organisation] | None = None
            depth = index + 1
            while True:
                if _END in node:
                    longest = (depth, node[_END])
                if depth >= count:
                    break
                node = node.get(words[depth])
                if node is None:
                    break
                depth += 1
            if longest is None:
                index += 1
            else:
                note(len(text) + index, longest[1])  # after tags: names rank by word position
                index = longest[0]
        return [organisation for *_, organisation in sorted(hits.values(), key=lambda hit: hit[:2])]
