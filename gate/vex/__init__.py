"""VEX: what a vendor or the image owner says about a vulnerability in a product.

OpenVEX (0.0.1 and 0.2.0) and CycloneDX VEX documents are read into one
model (``gate.vex.model``) and applied to scan findings (``gate.vex.apply``):
only ``not_affected`` and ``fixed`` statements that name this image (and,
when they list subcomponents, the finding's package) suppress a finding.
"""
