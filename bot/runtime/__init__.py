"""Generic plumbing with no domain in it: scheduler, leader election, metrics, safe logging."""
