"""Plate format templates per region, loaded from YAML, and confusable-character correction by position."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.errors import FormatConfigError

DEFAULT_REGIONS_FILE = Path(__file__).with_name("regions.yaml")
TEMPLATE_SYMBOLS = {"L": str.isalpha, "N": str.isdigit, "*": lambda c: True}
# Characters OCR confuses, both ways: a letter where a digit must be, or a digit where a letter must be.
LETTER_TO_DIGIT = {"O": "0", "I": "1", "B": "8", "S": "5", "Z": "2", "G": "6"}
DIGIT_TO_LETTER = {v: k for k, v in LETTER_TO_DIGIT.items()}


@dataclass(frozen=True, slots=True)
class Template:
    pattern: str

    def __post_init__(self) -> None:
        if not self.pattern or not all(c in TEMPLATE_SYMBOLS or c.isalnum() for c in self.pattern):
            raise FormatConfigError(f"template {self.pattern!r}: use L (letter), N (digit), * (any) or A-Z0-9")

    def __len__(self) -> int:
        return len(self.pattern)

    def fit(self, text: str) -> tuple[str, int] | None:
        """Correct `text` to this template: (corrected text, corrections made), or None if it cannot fit."""
        if len(text) != len(self.pattern):
            return None
        out, fixes = [], 0
        for char, slot in zip(text, self.pattern, strict=True):
            check = TEMPLATE_SYMBOLS.get(slot)
            if check is None:  # a literal character in the template
                fixed = slot if char == slot else None
            elif check(char):
                fixed = char
            else:
                fixed = (LETTER_TO_DIGIT if slot == "N" else DIGIT_TO_LETTER).get(char)
            if fixed is None:
                return None
            fixes += fixed != char
            out.append(fixed)
        return "".join(out), fixes


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    templates: tuple[Template, ...] = ()
    min_length: int = 2
    max_length: int = 10
    # Characters this region's plates draw as one glyph, and the one a read reports: (letter, reported as) pairs.
    # In the US, most states either never issue the letter O or treat O and 0 as one character, and a read can
    # only tell them apart by where they stand, which varies by state; so `us` reports 0.
    same_as: tuple[tuple[str, str], ...] = ()

    def fold(self, text: str) -> str:
        """`text` with each look-alike the region reports as another replaced by it."""
        for char, reported in self.same_as:
            text = text.replace(char, reported)
        return text

    def best_fit(self, text: str) -> tuple[str, bool]:
        """The text, folded (`same_as`), corrected to its closest template, and whether any template fits."""
        text = self.fold(text)
        fits = [fit for t in self.templates if (fit := t.fit(text)) is not None]
        if not fits:
            return text, False
        return min(fits, key=lambda f: f[1])[0], True

    def length_ok(self, text: str) -> bool:
        return self.min_length <= len(text) <= self.max_length


def parse_same_as(name: str, spec: object) -> tuple[tuple[str, str], ...]:
    """`same_as: {O: "0"}` -> (("O", "0"),); each side one plate character (A-Z, 0-9)."""
    if spec is None:
        return ()
    if not isinstance(spec, dict):
        raise FormatConfigError(f"region {name!r}: same_as must map a character to the one reported, e.g. {{O: '0'}}")
    pairs = tuple((str(k).upper(), str(v).upper()) for k, v in spec.items())
    for pair in pairs:
        if not all(len(c) == 1 and c.isascii() and c.isalnum() for c in pair) or pair[0] == pair[1]:
            raise FormatConfigError(f"region {name!r}: same_as {pair[0]!r}: {pair[1]!r} must map one plate "
                                    "character (A-Z, 0-9) to another")
    return pairs


def parse_regions(data: object) -> dict[str, Region]:
    if not isinstance(data, dict) or not isinstance(data.get("regions"), dict):
        raise FormatConfigError("regions file must be a mapping with a 'regions' mapping inside")
    regions = {}
    for name, spec in data["regions"].items():
        if not isinstance(spec, dict):
            raise FormatConfigError(f"region {name!r} must be a mapping")
        try:
            region = Region(
                name=str(name),
                templates=tuple(Template(str(p).upper()) for p in spec.get("templates") or []),
                min_length=int(spec.get("min_length", 2)),
                max_length=int(spec.get("max_length", 10)),
                same_as=parse_same_as(str(name), spec.get("same_as")),
            )
        except (TypeError, ValueError) as exc:
            raise FormatConfigError(f"region {name!r}: {exc}") from exc
        if not 1 <= region.min_length <= region.max_length:
            raise FormatConfigError(f"region {name!r}: need 1 <= min_length <= max_length")
        regions[region.name] = region
    return regions


def load_regions(path: Path = DEFAULT_REGIONS_FILE) -> dict[str, Region]:
    try:
        return parse_regions(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise FormatConfigError(f"cannot read regions file {path}: {exc}") from exc
