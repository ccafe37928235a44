"""The §7216 disclosure gate: the one check every path by which return information leaves for a third party
makes first, and the disclosure log it writes either way (docs/disclosure.md)."""
