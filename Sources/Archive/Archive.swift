// Archive: see design.md.
