"""Memory analysis without Django: container census, leak detection, allocation windows, snapshots."""
