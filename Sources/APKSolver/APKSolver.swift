// APKSolver: see design.md.
