"""Plain, readable PDFs from text (fpdf2): the engagement letter, the Form 7216 consent and the certificate of
completion are all headings and paragraphs. Letter paper, 12-point type (Rev. Proc. 2013-14 asks a paper
consent for at least 8½ × 11 inches and 12-point type; the same holds for everything here)."""

from __future__ import annotations

from dataclasses import dataclass

from fpdf import FPDF

BODY_PT = 12


@dataclass(frozen=True)
class Block:
    kind: str  # title | heading | text | pair
    text: str
    value: str = ""


def _latin1(text: str) -> str:
    # The core fonts are Latin-1: replace what they cannot draw instead of failing on a client's name.
    replacements = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                    "\u00a7": "\u00a7", "\u2026": "..."}
    return "".join(replacements.get(ch, ch) for ch in text).encode("latin-1", "replace").decode("latin-1")


def render(blocks: list[Block], title: str, author: str) -> bytes:
    pdf = FPDF(format="letter", unit="pt")
    pdf.set_margins(54, 54, 54)
    pdf.set_auto_page_break(True, 54)
    pdf.set_title(_latin1(title))
    pdf.set_author(_latin1(author))
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for block in blocks:
        if block.kind == "title":
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(width, 22, _latin1(block.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(6)
        elif block.kind == "heading":
            pdf.ln(4)
            pdf.set_font("Helvetica", "B", BODY_PT + 1)
            pdf.multi_cell(width, 18, _latin1(block.text), new_x="LMARGIN", new_y="NEXT")
        elif block.kind == "pair":
            pdf.set_font("Helvetica", "B", BODY_PT)
            pdf.multi_cell(width, 16, _latin1(block.text), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", BODY_PT)
            pdf.multi_cell(width, 16, _latin1(block.value or "-"), new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Helvetica", "", BODY_PT)
            pdf.multi_cell(width, 16, _latin1(block.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    return bytes(pdf.output())
