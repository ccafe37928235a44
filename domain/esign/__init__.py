"""Electronic signatures (issue 15): one signature request per document sent for signing (an engagement letter,
a Form 7216 consent, a Form 8879), the evidence the provider kept, and the signed PDF sealed by the firm
(docs/esign.md)."""
