"""The words of a Form 7216 consent, versioned per kind, each carrying every statement Rev. Proc. 2013-14 makes
mandatory for 1040-series taxpayers (docs/consent.md).

A template is checked when it is defined: one that lacks a mandatory statement of its kind, or whose statement
lost the fact it must state (the TIGTA telephone number, the one-year default …), raises `TemplateError`, so a
release with a broken template fails on import instead of sending a consent that is not valid. A version is never
edited once used: a new wording is a new version, and each consent records the version it was sent with, so a
signed consent always shows the words the client saw.
"""

from __future__ import annotations

from dataclasses import dataclass

# Statement → the facts its words must contain (case-insensitive), per kind.
MANDATORY: dict[str, dict[str, tuple[str, ...]]] = {
    "disclosure": {
        "required_by_law": ("federal law requires this consent form be provided to you",
                            "we cannot disclose your tax return information to third parties"),
        "no_protection_after_disclosure": ("federal law may not protect your tax return information from further "
                                           "use or distribution",),
        "not_required": ("you are not required to complete this form",),
        "no_conditioning": ("conditioning our services on your consent", "will not be valid"),
        "duration": ("valid for the amount of time that you specify", "valid for one year"),
        "tigta": ("treasury inspector general for tax administration", "1-800-366-4484",
                  "complaints@tigta.treas.gov"),
    },
    "use": {
        "required_by_law": ("federal law requires this consent form be provided to you",
                            "we cannot use your tax return information for purposes other than"),
        "not_required": ("you are not required to complete this form",),
        "no_conditioning": ("conditioning our services on your consent", "will not be valid"),
        "duration": ("valid for the amount of time that you specify", "valid for one year"),
        "tigta": ("treasury inspector general for tax administration", "1-800-366-4484",
                  "complaints@tigta.treas.gov"),
    },
}


class TemplateError(ValueError):
    """A consent template that is not valid under Rev. Proc. 2013-14: refused when it is defined."""


@dataclass(frozen=True)
class ConsentTemplate:
    kind: str
    version: str
    title: str
    # The consent itself; {firm}, {taxpayer}, {recipient}, {information}, {purpose}, {tax_year}, {duration}.
    grant: str
    statements: dict[str, str]  # mandatory statement name → its words

    def __post_init__(self) -> None:
        required = MANDATORY.get(self.kind)
        if required is None:
            raise TemplateError(f"{self.version}: unknown consent kind {self.kind!r}")
        missing = [name for name in required if name not in self.statements]
        if missing:
            raise TemplateError(f"{self.version}: lacks the mandatory statements {', '.join(missing)}")
        for name, facts in required.items():
            words = " ".join(self.statements[name].lower().split())
            lost = [fact for fact in facts if fact not in words]
            if lost:
                raise TemplateError(f"{self.version}: statement {name} does not say {'; '.join(lost)}")


_NOT_REQUIRED = "You are not required to complete this form."
_NO_CONDITIONING = ("If we obtain your signature on this form by conditioning our services on your consent, your "
                    "consent will not be valid.")
_DURATION = ("Your consent is valid for the amount of time that you specify. If you do not specify the duration of "
             "your consent, your consent is valid for one year.")
_TIGTA = ("If you believe your tax return information has been disclosed or used improperly in a manner "
          "unauthorized by law or without your permission, you may contact the Treasury Inspector General for Tax "
          "Administration (TIGTA) by telephone at 1-800-366-4484, or by email at complaints@tigta.treas.gov.")

DISCLOSURE_2026_1 = ConsentTemplate(
    kind="disclosure", version="disclosure-2026.1",
    title="Consent to Disclose Tax Return Information",
    grant=("I, {taxpayer}, authorize {firm} to disclose to {recipient} the following information from my "
           "{tax_year} tax return: {information}. Purpose of the disclosure: {purpose}. This consent ends "
           "{duration}."),
    statements={
        "required_by_law": ("Federal law requires this consent form be provided to you. Unless authorized by law, "
                            "we cannot disclose your tax return information to third parties for purposes other "
                            "than the preparation and filing of your tax return without your consent."),
        "no_protection_after_disclosure": ("If you consent to the disclosure of your tax return information, "
                                           "Federal law may not protect your tax return information from further "
                                           "use or distribution."),
        "not_required": _NOT_REQUIRED, "no_conditioning": _NO_CONDITIONING, "duration": _DURATION, "tigta": _TIGTA,
    })

USE_2026_1 = ConsentTemplate(
    kind="use", version="use-2026.1",
    title="Consent to Use Tax Return Information",
    grant=("I, {taxpayer}, authorize {firm} to use the following information from my {tax_year} tax return: "
           "{information}. Purpose of the use: {purpose}. This consent ends {duration}."),
    statements={
        "required_by_law": ("Federal law requires this consent form be provided to you. Unless authorized by law, "
                            "we cannot use your tax return information for purposes other than the preparation "
                            "and filing of your tax return without your consent."),
        "not_required": _NOT_REQUIRED, "no_conditioning": _NO_CONDITIONING, "duration": _DURATION, "tigta": _TIGTA,
    })

# Every version ever sent stays here (a signed consent names its version); CURRENT is what a new send uses.
TEMPLATES: dict[str, ConsentTemplate] = {t.version: t for t in (DISCLOSURE_2026_1, USE_2026_1)}
CURRENT: dict[str, str] = {"disclosure": DISCLOSURE_2026_1.version, "use": USE_2026_1.version}
