"""Training on a rented GPU box: pack data and wheels here (pack.py), run there (run.sh), plot what comes back."""
