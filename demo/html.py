"""Parse HTML pages the slow way: a hand-written tokenizer, the demo's CPU hotspot."""

from __future__ import annotations


def parse_document(text: str) -> dict:
    """Return the title, the links and the word count of an HTML page."""
    title = ""
    links: list[str] = []
    words = 0
    in_tag = False
    in_title = False
    tag: list[str] = []
    word = False
    for char in text:
        if in_tag:
            if char == ">":
                in_tag = False
                name = "".join(tag)
                if name.startswith("a href="):
                    links.append(name[8:].strip("\"'"))
                elif name == "title":
                    in_title = True
                elif name == "/title":
                    in_title = False
            else:
                tag.append(char)
            continue
        if char == "<":
            in_tag = True
            tag = []
            word = False
            continue
        if in_title:
            title += char
        if char.isalnum():
            if not word:
                words += 1
                word = True
        else:
            word = False
    return {"title": title.strip(), "links": links, "words": words}
