"""Engagement letters (spec §10.1–10.7): drafted, sent for e-signature, signed, declined or expired."""
