// SBOM: see design.md.
