"""`llid eval`: pairing outputs with references, scoring them, and reporting."""
