"""Balanced learning: the PRF state and its update rule (prf), the imbalance methods (methods) and their losses."""
