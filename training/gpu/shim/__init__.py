"""Stand-ins put on PYTHONPATH by run.sh for packages the GPU box lacks and that are too big to carry."""
