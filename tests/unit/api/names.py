"""Channel names the spec allows (§11): a-z, A-Z, 0-9, space and 26 punctuation marks, 89
characters, at most 64 bytes. `LEGAL_CNAMES` holds every one of them in two names."""

from string import ascii_letters, digits

PUNCTUATION = " !#$%&()+-:;<=.>?@[]^_{}|~,"  # with the space
LEGAL_CHARACTERS = ascii_letters + digits + PUNCTUATION
LEGAL_CNAMES = (f"r{PUNCTUATION}{digits}", ascii_letters)
