"""One router per resource: health, marts, snapshots, uploads, reviews, audit, keys, metrics."""
