"""One router per resource: health, marts, snapshots."""
