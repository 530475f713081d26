"""hfinfer's code generator: schemas/ → generated/ (typed dataclasses and both clients)."""
