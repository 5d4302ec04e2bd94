"""The alignment pipeline: sources -> normalise -> block -> compare -> match."""
