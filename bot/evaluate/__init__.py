"""Stage 3: the stored series go through the rules; new transitions become events."""
