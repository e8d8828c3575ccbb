// OCI: see design.md.
