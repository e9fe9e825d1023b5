"""Screen texts, one module per language; every module has the same keys and placeholders."""
