"""docs/tax_return.md shows the state machine as the code has it."""

from pathlib import Path

from domain.tax_return import state_machine as sm

DOC = Path(__file__).resolve().parents[2] / "docs" / "tax_return.md"


def _between(text: str, name: str) -> str:
    return text.split(f"<!-- {name}:start -->\n", 1)[1].split(f"\n<!-- {name}:end -->", 1)[0]


def test_docs_tables_match_the_state_machine():
    text = DOC.read_text()
    assert _between(text, "transitions") == sm.markdown_table(), "regenerate with sm.markdown_table()"
    assert _between(text, "statuses") == sm.status_table(), "regenerate with sm.status_table()"
