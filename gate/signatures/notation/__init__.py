"""Notation (Notary Project v2) signatures: JWS and COSE envelopes, X.509 trust stores."""
