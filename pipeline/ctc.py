"""CTC log-likelihood of given strings under a recognizer's per-frame probabilities.

Greedy decoding follows one alignment; the likelihood sums over every alignment of the string (the CTC forward
algorithm), so strings read from different views of a crop can be compared on any of them. Vectorised over the
strings: one pass over the frames whatever their number.
"""

from __future__ import annotations

import numpy as np

LOG_FLOOR = 1e-12


def extended_labels(texts: list[str], alphabet: str) -> tuple[np.ndarray, np.ndarray]:
    """Each string as blank-interleaved class indices (b c1 b c2 ... b), padded with blanks, and its length."""
    size = max(3, 2 * max(len(t) for t in texts) + 1)  # room for the first character's state even when all are empty
    labels = np.zeros((len(texts), size), dtype=np.int64)
    for row, text in enumerate(texts):
        labels[row, 1 : 2 * len(text) : 2] = [alphabet.index(c) + 1 for c in text]
    return labels, np.array([2 * len(t) + 1 for t in texts])


def ctc_log_likelihood(probs: np.ndarray, texts: list[str], alphabet: str) -> np.ndarray:
    """log P(text | probs) for each text; probs is (T, 1 + len(alphabet)) with the blank at 0.

    Characters outside `alphabet` raise ValueError; an empty string is the all-blank path.
    """
    if not texts:
        return np.zeros(0)
    labels, lengths = extended_labels(texts, alphabet)
    n, size = labels.shape
    log_probs = np.log(np.maximum(probs, LOG_FLOOR))
    # a state may be skipped (s-2 -> s) when it is a character different from the one two states back
    skip = np.zeros((n, size), dtype=bool)
    skip[:, 2:] = (labels[:, 2:] != 0) & (labels[:, 2:] != labels[:, :-2])
    alpha = np.full((n, size), -np.inf)
    alpha[:, 0] = log_probs[0, 0]
    alpha[:, 1] = np.where(lengths > 1, log_probs[0, labels[:, 1]], -np.inf)
    for t in range(1, len(log_probs)):
        stay = alpha
        step = np.concatenate([np.full((n, 1), -np.inf), alpha[:, :-1]], axis=1)
        jump = np.where(skip, np.concatenate([np.full((n, 2), -np.inf), alpha[:, :-2]], axis=1), -np.inf)
        alpha = np.logaddexp(np.logaddexp(stay, step), jump) + log_probs[t, labels]
    rows = np.arange(n)
    last = alpha[rows, lengths - 1]
    before_last = np.where(lengths > 1, alpha[rows, np.maximum(lengths - 2, 0)], -np.inf)
    return np.logaddexp(last, before_last)
