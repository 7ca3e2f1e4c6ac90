"""Write one ``## `` section of ``bench/RESULTS.md``, keeping the others and the notes above them."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, heading: str, section: str) -> None:
    """Replace (or append) the section starting with ``heading``."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\nEach section is rewritten by its script.\n"
    start = text.find(heading)
    section = section.rstrip("\n") + "\n"
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("\n" + text[end + 1 :] if end != -1 else "")
    path.write_text(text)
