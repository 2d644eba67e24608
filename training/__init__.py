"""Training: datasets, synthetic plates, detector and recognizer training, evaluation, export."""
