"""Notary v1 / Docker Content Trust: TUF trust data verified from a pinned root down to a tag.

``canonical`` writes the bytes Notary signs, ``tuf_keys`` turns metadata keys
into verifiers, ``metadata`` parses the role files strictly, ``repository``
walks and verifies the whole chain through a ``MetadataSource``, and
``targets`` chooses the target a reference resolves to.
"""
