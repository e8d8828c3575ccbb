// Config: see design.md.
