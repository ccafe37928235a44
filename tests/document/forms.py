"""Real PDFs with text layers for the supported forms, made with fpdf2 the way payers print substitute
statements: the form title, the parties, then one labelled box per line."""

from __future__ import annotations

from fpdf import FPDF

W2_BOXES = [
    ("Box 1 Wages, tips, other compensation", "wages"),
    ("Box 2 Federal income tax withheld", "federal_withholding"),
    ("Box 3 Social security wages", "social_security_wages"),
    ("Box 4 Social security tax withheld", "social_security_withholding"),
    ("Box 5 Medicare wages and tips", "medicare_wages"),
    ("Box 6 Medicare tax withheld", "medicare_withholding"),
    ("Box 16 State wages, tips, etc.", "state_wages"),
    ("Box 17 State income tax", "state_withholding"),
]
INT_BOXES = [
    ("Box 1 Interest income", "interest_income"),
    ("Box 2 Early withdrawal penalty", "early_withdrawal_penalty"),
    ("Box 3 Interest on U.S. Savings Bonds and Treasury obligations", "us_savings_bond_interest"),
    ("Box 4 Federal income tax withheld", "federal_withholding"),
    ("Box 8 Tax-exempt interest", "tax_exempt_interest"),
]
DIV_BOXES = [
    ("Box 1a Total ordinary dividends", "ordinary_dividends"),
    ("Box 1b Qualified dividends", "qualified_dividends"),
    ("Box 2a Total capital gain distr.", "capital_gain_distributions"),
    ("Box 4 Federal income tax withheld", "federal_withholding"),
    ("Box 7 Foreign tax paid", "foreign_tax_paid"),
]
NEC_BOXES = [
    ("Box 1 Nonemployee compensation", "nonemployee_compensation"),
    ("Box 4 Federal income tax withheld", "federal_withholding"),
    ("Box 5 State tax withheld", "state_withholding"),
]
MORTGAGE_BOXES = [
    ("Box 1 Mortgage interest received from payer(s)/borrower(s)", "mortgage_interest"),
    ("Box 2 Outstanding mortgage principal", "outstanding_principal"),
    ("Box 5 Mortgage insurance premiums", "mortgage_insurance_premiums"),
    ("Box 6 Points paid on purchase of principal residence", "points_paid"),
]

FORMS = {
    "W-2": ("Form W-2 Wage and Tax Statement", "Employer's name, address, and ZIP code",
            "Employer identification number (EIN)", W2_BOXES),
    "1099-INT": ("Form 1099-INT Interest Income", "PAYER'S name", "PAYER'S TIN", INT_BOXES),
    "1099-DIV": ("Form 1099-DIV Dividends and Distributions", "PAYER'S name", "PAYER'S TIN", DIV_BOXES),
    "1099-NEC": ("Form 1099-NEC Nonemployee Compensation", "PAYER'S name", "PAYER'S TIN", NEC_BOXES),
    "1098": ("Form 1098 Mortgage Interest Statement", "RECIPIENT'S/LENDER'S name", "RECIPIENT'S TIN",
             MORTGAGE_BOXES),
}


def form_pdf(form: str, issuer: str, values: dict[str, str], tax_year: int = 2024, tin: str = "12-3456789",
             wrapped: frozenset[str] = frozenset(), pad_pages: int = 0) -> bytes:
    """A one-page form. Fields named in `wrapped` print their amount on the line under the label (the layout
    the extractor trusts less); `pad_pages` adds pages of filler text (for size)."""
    title, issuer_label, tin_label, boxes = FORMS[form]
    pdf = FPDF()
    pdf.set_compression(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)

    def line(text: str) -> None:
        pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")

    line(title)
    line(f"Tax Year {tax_year}")
    line(f"{issuer_label}: {issuer}")
    line(f"{tin_label}: {tin}")
    line("Copy B - To Be Filed With Recipient's Federal Tax Return")
    for label, name in boxes:
        if name not in values:
            continue
        amount = f"${values[name]}"
        if name in wrapped:
            line(label)
            line(amount)
        else:
            line(f"{label}  {amount}")
    for _ in range(pad_pages):
        pdf.add_page()
        for i in range(40):
            line(f"Statement detail line {i}: " + "lorem ipsum dolor sit amet " * 3)
    return bytes(pdf.output())


def scanned_pdf() -> bytes:
    """A PDF with no text layer (what a scanner produces: an image, here a drawn rectangle)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())
