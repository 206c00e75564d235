//! `cascade calc`: placeholder until the risk calculators land.
