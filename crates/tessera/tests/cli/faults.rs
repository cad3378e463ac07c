//! Faults the service survives (filled below).
