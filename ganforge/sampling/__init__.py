"""Out of a trained G: samples (generate), exported files (export) and videos (animate), through one loader (load)."""
