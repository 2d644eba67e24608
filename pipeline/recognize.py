"""Recognize stage: batch plate crops through the CTC recognizer and decode characters with alternatives.

Every crop is resized to the engine's input (pipeline.ctc_model), so a crop's result never depends on what else is
in its batch: batched recognition gives the same text as one crop at a time. Unsure reads are rescored on other
views of the crop, on the glyph check, and on a second reader: a recognizer trained elsewhere (PaddleOCR's), whose
habits differ from ours (ours reads unclear characters by their place on a Brazilian plate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from engines import Engine, ModelKind, check_kind, create_engine, onnx_device
from pipeline.ctc import ctc_log_likelihood
from pipeline.ctc_model import PLATE_ALPHABET, CtcModel
from pipeline.errors import ReaderConfigError
from pipeline.glyphs import (
    DEFAULT_GLYPH_WEIGHT,
    GlyphEvidence,
    cut_glyphs,
    glyph_log_probs,
    to_glyph_input,
    with_glyphs,
)
from pipeline.lines import TwoLineConfig, line_gap, split_lines, two_line_read
from pipeline.postprocess import best_confidence, expand_alternatives
from pipeline.records import CharGuess, PlateCrop, RawText
from pipeline.turn import locate_read, turn_crop, turn_text
from pipeline.views import DEFAULT_VIEWS, DEFAULT_VIEWS_UP_TO, TURN, VIEW_NAMES, VIEWS

DEFAULT_SECOND_WEIGHT = 0.8  # of the second reader's log-likelihood, beside the views' mean (MODEL_CARD.md)


@dataclass(frozen=True, slots=True)
class RecognizerConfig:
    max_batch: int = 64  # crops per forward pass
    alternatives: int = 3  # options kept per character for the candidate list
    min_alternative: float = 0.02  # an option below this probability is noise
    dynamic_width: bool = True  # with an engine that allows it, each crop read at the width it needs
    views: tuple[str, ...] = DEFAULT_VIEWS  # test-time views (pipeline.views); with more, candidates are rescored
    view_pool: int = 10  # strings each view adds to the pool that all views score
    # Views after the first only for crops whose first read has at most this confidence (0..100; 100 = all):
    # a sure read gains nothing from a second look, and most reads are sure.
    views_up_to: float = DEFAULT_VIEWS_UP_TO
    # A read of fewer characters is unsure however confident: no plate is that short, and the format rules would
    # drop it (Vermont's `00000`, read `0` at 99.7, reads right once the other views and the second reader look).
    min_sure_length: int = 2
    two_lines: TwoLineConfig = field(default_factory=TwoLineConfig)  # two-line plates read by line (pipeline.lines)
    glyph_weight: float = DEFAULT_GLYPH_WEIGHT  # of the glyph check (pipeline.glyphs), with a glyph engine given
    # With the glyph check, every read's characters are classified, and a sure read the classifier reads otherwise
    # is treated as unsure (read in every view, rescored): the recognizer is sometimes sure and wrong (`9IA4ZA`).
    glyph_recheck: bool = True
    second_weight: float = DEFAULT_SECOND_WEIGHT  # of the second reader, with a second engine given; 0 = off

    def __post_init__(self) -> None:
        unknown = [name for name in self.views if name not in VIEW_NAMES]
        if unknown or not self.views:
            raise ReaderConfigError(f"unknown view(s) {', '.join(unknown) or '(none)'}; known: {', '.join(VIEW_NAMES)}")
        if self.views[0] == TURN:
            raise ReaderConfigError(f"'{TURN}' cannot be the first view: it turns the crop where the first read "
                                    "found the characters")


def ctc_decode(probs: np.ndarray, alphabet: str, config: RecognizerConfig) -> RawText:
    """Greedy CTC over (T, 1 + len(alphabet)) probabilities; each character keeps its best alternatives."""
    best = probs.argmax(axis=1)
    chars: list[CharGuess] = []
    t = 0
    while t < len(best):
        cls = best[t]
        if cls == 0:
            t += 1
            continue
        end = t
        while end + 1 < len(best) and best[end + 1] == cls:
            end += 1
        peak = t + int(probs[t : end + 1, cls].argmax())  # the frame where this character is clearest
        order = np.argsort(probs[peak, 1:])[::-1][: config.alternatives]
        options = [(alphabet[i], float(probs[peak, i + 1])) for i in order]
        options = [options[0]] + [o for o in options[1:] if o[1] >= config.min_alternative]
        chars.append(CharGuess(tuple(options)))
        t = end + 1
    return RawText(tuple(chars))


def optional_engine(path: Path | None, device: str, threads: int) -> Engine | None:
    """The glyph classifier or the second reader, loaded where one is named. The second reader, an ONNX-only file,
    is given `onnx_device(device)`: the CPU where ONNX Runtime has no CUDA."""
    return create_engine(path, device, threads) if path is not None else None


class Recognizer:
    """Turns crops into RawText with one forward pass per `max_batch` crops."""

    def __init__(self, engine: Engine, config: RecognizerConfig, alphabet: str = PLATE_ALPHABET,
                 glyphs: Engine | None = None, second: Engine | None = None) -> None:
        self.model = CtcModel(engine, alphabet, config.dynamic_width, config.max_batch)
        # the glyph check's classifier (pipeline.glyphs)
        self.glyphs = check_kind(glyphs, ModelKind.GLYPHS) if glyphs is not None and config.glyph_weight > 0 else None
        # the second reader: scores the candidates of unsure reads, and adds its own read to them
        self.second = (CtcModel(second, alphabet, config.dynamic_width, config.max_batch)
                       if second is not None and config.second_weight > 0 else None)
        self.config = config
        self.alphabet = alphabet

    @classmethod
    def from_files(cls, recognizer: Path, config: RecognizerConfig, device: str = "cpu", threads: int = 0,
                   glyphs: Path | None = None, second: Path | None = None) -> Recognizer:
        return cls(create_engine(recognizer, device, threads), config, glyphs=optional_engine(glyphs, device, threads),
                   second=optional_engine(second, onnx_device(device), threads))

    def read(self, crops: list[PlateCrop], quick: bool = False) -> list[RawText]:
        """Each crop read in the first view; an unsure one also in the others, and then every string any view
        read is scored by all, and by the glyph check where there is one. A crop that looks like a two-line plate is
        also read line by line. `quick`: no other views and no second reader, only the glyph check (a few ms): about
        half the work, for a service that has fallen behind its cameras."""
        first, *others = self.config.views
        probs = self.probabilities([VIEWS[first](c.image) for c in crops])
        texts = [ctc_decode(p, self.alphabet, self.config) for p in probs]
        looks = () if quick else tuple(others)
        second = None if quick else self.second
        if looks or self.glyphs is not None or second is not None:  # else there is nothing to rescore with
            self.read_views(crops, probs, texts, looks, second)
        self.read_lines(crops, texts)
        return texts

    def read_views(self, crops: list[PlateCrop], probs: list[np.ndarray], texts: list[RawText],
                   looks: tuple[str, ...], second: CtcModel | None) -> None:
        """Unsure reads (in `texts`, replaced in place) read again in the other views `looks` and by the `second`
        reader, and rescored. With the glyph check, a sure read whose characters the glyph classifier reads
        otherwise counts as unsure too."""
        unsure = [i for i, t in enumerate(texts)
                  if best_confidence(t) <= self.config.views_up_to or len(t.chars) < self.config.min_sure_length]
        evidence: dict[int, GlyphEvidence] = {}
        if self.glyphs is not None:
            checked = range(len(crops)) if self.config.glyph_recheck else unsure
            evidence = self.glyph_evidence(self.glyphs, crops, probs, list(checked))
            unsure = sorted({*unsure, *(i for i, found in evidence.items() if found.disagrees())})
        # per unsure crop: each view's probabilities, and how many characters that view moved to the back
        views: list[list[tuple[np.ndarray, int]]] = [[(probs[i], 0)] for i in unsure]
        for name in looks:
            if name == TURN:
                self.read_turned(crops, probs, unsure, views)
                continue
            for k, p in enumerate(self.probabilities([VIEWS[name](crops[i].image) for i in unsure])):
                views[k].append((p, 0))
        opinions = self.second_opinions(second, crops, unsure)
        for k, i in enumerate(unsure):
            reads = [texts[i], *(self.decode_turned(p, moved) for p, moved in views[k][1:])]
            texts[i] = RawText(texts[i].chars, self.rescore(views[k], reads, opinions[k]))
            if i in evidence and texts[i].scored:
                found = evidence[i]
                rescored = with_glyphs(texts[i].scored, found.log_probs, found.first_read, found.charset,
                                       self.config.glyph_weight)
                texts[i] = RawText(texts[i].chars, rescored)
            if opinions[k]:  # a weighted mean of the two readers: confidences stay on our scale
                share = 1.0 + self.config.second_weight
                texts[i] = RawText(texts[i].chars, tuple((text, score / share) for text, score in texts[i].scored))

    def second_opinions(self, second: CtcModel | None, crops: list[PlateCrop],
                        indices: list[int]) -> list[tuple[np.ndarray, ...]]:
        """The `second` reader's probabilities of these crops in the first view and, for a crop cut from a
        detector's box, in the tighter cut it is given too (PlateCrop.tight); none each without a second reader."""
        if second is None:
            return [() for _ in indices]
        first = VIEWS[self.config.views[0]]
        tight = {i: image for i in indices if (image := crops[i].tight) is not None}
        read = iter(second.probabilities([first(crops[i].image) for i in indices]))
        read_tight = dict(zip(tight, second.probabilities([first(image) for image in tight.values()]),
                              strict=True))
        return [(next(read), read_tight[i]) if i in read_tight else (next(read),) for i in indices]

    def glyph_evidence(self, glyphs: Engine, crops: list[PlateCrop], probs: list[np.ndarray],
                       indices: list[int]) -> dict[int, GlyphEvidence]:
        """The glyph check (pipeline.glyphs) of these reads: every character of the first read cut out and
        classified alone, one forward pass for all of them."""
        first = VIEWS[self.config.views[0]]
        cut: list[tuple[int, str, list[np.ndarray]]] = []  # (read, its first string, its glyphs)
        for k in indices:
            image = first(crops[k].image)
            classes, spans = locate_read(probs[k], self.pixels_per_frame(image, len(probs[k])), image.shape[1])
            if spans is not None:
                gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
                cut.append((k, "".join(self.alphabet[c - 1] for c in classes), cut_glyphs(gray, spans)))
        if not cut:
            return {}
        charset = glyphs.metadata.charset
        log_probs = glyph_log_probs(glyphs.infer(to_glyph_input([g for _, _, cuts in cut for g in cuts])), charset)
        evidence, start = {}, 0
        for k, first_read, cuts in cut:
            evidence[k] = GlyphEvidence(first_read, log_probs[start : start + len(cuts)], charset)
            start += len(cuts)
        return evidence

    def read_turned(self, crops: list[PlateCrop], probs: list[np.ndarray], unsure: list[int],
                    views: list[list[tuple[np.ndarray, int]]]) -> None:
        """The `turn` view (pipeline.turn) of the unsure crops whose first read is long enough to turn."""
        first = VIEWS[self.config.views[0]]
        turned = []
        for k, i in enumerate(unsure):
            image = first(crops[i].image)
            if (turn := turn_crop(image, probs[i], self.pixels_per_frame(image, len(probs[i])))) is not None:
                turned.append((k, *turn))
        read = self.probabilities([image for _, image, _ in turned])
        for (k, _, moved), p in zip(turned, read, strict=True):
            views[k].append((p, moved))

    def pixels_per_frame(self, image: np.ndarray, frames: int) -> float:
        """Crop columns per output frame of `image` as this recognizer reads it."""
        return self.model.pixels_per_frame(image, frames)

    def decode_turned(self, probs: np.ndarray, moved: int) -> RawText:
        """A view's read in plate order: the characters it moved to the back put in front again."""
        raw = ctc_decode(probs, self.alphabet, self.config)
        if 0 < moved < len(raw.chars):
            return RawText(raw.chars[-moved:] + raw.chars[:-moved])
        return raw

    def read_lines(self, crops: list[PlateCrop], texts: list[RawText]) -> None:
        """Crops that look like two-line plates read line by line; where both lines read sure, their reads (top,
        then bottom) replace the one-line read in `texts`."""
        config = self.config.two_lines
        images = [crop.image if crop.full_height is None else crop.full_height for crop in crops]
        gaps = [(i, row) for i, image in enumerate(images) if (row := line_gap(image, config)) is not None]
        if not gaps:
            return
        view = VIEWS[self.config.views[0]]
        halves = [view(half) for i, row in gaps for half in split_lines(images[i], row)]
        lines = [ctc_decode(p, self.alphabet, self.config) for p in self.probabilities(halves)]
        for k, (i, _) in enumerate(gaps):
            top, bottom = lines[2 * k], lines[2 * k + 1]
            if two_line_read(best_confidence(texts[i]), top, bottom, config):
                texts[i] = RawText(top.chars + bottom.chars)

    def probabilities(self, images: list[np.ndarray]) -> list[np.ndarray]:
        return self.model.probabilities(images)

    def rescore(self, views: list[tuple[np.ndarray, int]], reads: list[RawText],
                second: tuple[np.ndarray, ...] = ()) -> tuple[tuple[str, float], ...]:
        """The strings each view read (`reads`, in plate order), scored on every view: on a turned one (a view
        that moved characters to the back), as that view shows them. With the second reader's probabilities
        (`second`, one per cut it read), its reads join the pool and its weighted log-likelihood, the mean over its
        cuts, is added to every string's score (`read_views` divides by the weights' sum once the glyph check has
        had its say)."""
        reads = [*reads, *(ctc_decode(probs, self.alphabet, self.config) for probs in second)]
        pool = sorted({text for raw in reads for text, _ in expand_alternatives(raw, self.config.view_pool)})
        if not pool:
            return ()
        scores = np.mean([ctc_log_likelihood(probs, [turn_text(t, moved) for t in pool], self.alphabet)
                          for probs, moved in views], axis=0)
        if second:
            scores = scores + self.config.second_weight * np.mean(
                [ctc_log_likelihood(probs, pool, self.alphabet) for probs in second], axis=0)
        return tuple(sorted(zip(pool, scores.tolist(), strict=True), key=lambda pair: -pair[1]))
