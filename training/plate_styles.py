"""Plate styles for the synthetic renderer: colours, layout and text templates per region, plus offline fonts."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from training.emblems import EMBLEM

# The same province characters as the recognizer charset in configs/ocr.yaml, so every label is trainable.
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = string.ascii_uppercase
DIGITS = string.digits
# Template characters: L letter, N digit, A letter or digit, P province, EMBLEM an emblem (training/emblems.py);
# anything else is drawn but not labelled.
SEPARATORS = " -·"

RGB = tuple[int, int, int]
WHITE: RGB = (245, 245, 240)
BLACK: RGB = (20, 20, 20)
EU_BLUE: RGB = (0, 51, 153)


@dataclass(frozen=True)
class PlateStyle:
    name: str
    aspect: float  # width / height of the physical plate
    templates: tuple[str, ...]  # "/" splits a two-line layout into its rows
    backgrounds: tuple[RGB, ...]
    text_color: RGB = BLACK
    border_color: RGB = BLACK
    letters: str = LETTERS  # some regions skip letters that look like digits
    band: str = ""  # "left" (EU strip) or "top" (Mercosur strip)
    band_color: RGB = EU_BLUE
    band_texts: tuple[str, ...] = ()
    header_texts: tuple[str, ...] = ()  # small line above the characters: US state, Brazilian city
    header_color: RGB = BLACK

    @property
    def lines(self) -> int:
        return 1 + self.templates[0].count("/")


US_STATES = ("CALIFORNIA", "TEXAS", "NEW YORK", "FLORIDA", "OHIO", "ARIZONA", "NEVADA", "OREGON", "ILLINOIS",
             "GEORGIA", "VIRGINIA", "MICHIGAN", "New Jersey", "Pennsylvania", "Colorado", "Washington")
BR_CITIES = ("SP - SAO PAULO", "RJ - RIO DE JANEIRO", "MG - BELO HORIZONTE", "PR - CURITIBA", "RS - PORTO ALEGRE",
             "BA - SALVADOR", "SC - FLORIANOPOLIS", "GO - GOIANIA", "PE - RECIFE", "DF - BRASILIA")
US_BACKGROUNDS: tuple[RGB, ...] = ((245, 245, 240), (235, 238, 245), (250, 245, 225), (225, 235, 245))
US_HEADERS: tuple[RGB, ...] = ((170, 20, 30), (20, 40, 140), (20, 20, 20))

STYLES: dict[str, PlateStyle] = {
    "eu": PlateStyle("eu", 4.7, ("LL NNN LL", "L LL NNNN", "LL L NNN", "NN-LLL-N", "LL-NNN-L", "LLL NNNNN", "LL NNNNN",
                                 f"L{EMBLEM}LL NNNN", f"LL{EMBLEM}L NNN"),  # German: seals after the district
                     (WHITE, (250, 250, 250)), band="left", band_texts=("D", "F", "NL", "PL", "I", "B", "E", "A")),
    "gb": PlateStyle("gb", 4.7, ("LLNN LLL",), (WHITE, (250, 200, 20)), border_color=(60, 60, 60),
                     letters=LETTERS.replace("I", "").replace("Q", "")),
    "us": PlateStyle("us", 2.0, ("NLLLNNN", "LLLNNNN", "NNNLLL", "LLL NNN", "LLLNNN", "NLLNNN", "LLNNNNN",
                                 f"LLN{EMBLEM}LNL", f"LLL{EMBLEM}NNNN", f"NNN{EMBLEM}LLL", f"LLL{EMBLEM}NNN"),
                     US_BACKGROUNDS, text_color=(25, 35, 110), border_color=(90, 90, 90), header_texts=US_STATES,
                     header_color=(170, 20, 30)),
    "us-moto": PlateStyle("us-moto", 1.75, ("LL/NNNN", "NL/NNNN", "NLL/NNN"), US_BACKGROUNDS,
                          text_color=(25, 35, 110), border_color=(90, 90, 90), header_texts=US_STATES,
                          header_color=(170, 20, 30)),
    "br-old": PlateStyle("br-old", 3.1, ("LLL-NNNN",), ((185, 185, 180), (200, 200, 195), (170, 172, 170)),
                         header_texts=BR_CITIES),
    "br-old-moto": PlateStyle("br-old-moto", 1.2, ("LLL/NNNN",), ((185, 185, 180), (200, 200, 195)),
                              header_texts=BR_CITIES),
    "br-mercosur": PlateStyle("br-mercosur", 3.1, ("LLLNLNN",), (WHITE,), border_color=(40, 40, 40), band="top",
                              band_color=(0, 60, 160), band_texts=("BRASIL",)),
    "cn": PlateStyle("cn", 3.15, ("PL·NNNNN", "PL·AAAAA", "PL·LNNNN"), ((20, 60, 190), (10, 50, 170)),
                     text_color=(240, 240, 240), border_color=(240, 240, 240),
                     letters=LETTERS.replace("I", "").replace("O", "")),
}


def generate_text(style: PlateStyle, rng: np.random.Generator, with_province: bool) -> tuple[str, str]:
    """(text as drawn, label). The province is drawn from the rng even when it is dropped, so the rest of a
    seed's sequence is the same on machines with and without a CJK font."""
    template = style.templates[int(rng.integers(len(style.templates)))]
    alnum = style.letters + DIGITS
    pools = {"L": style.letters, "N": DIGITS, "A": alnum, "P": PROVINCES}
    drawn = []
    for slot in template:
        pool = pools.get(slot)
        char = pool[int(rng.integers(len(pool)))] if pool else slot
        if slot == "P" and not with_province:
            continue
        drawn.append(char)
    text = "".join(drawn)
    label = "".join(c for c in text if c not in SEPARATORS and c not in f"/{EMBLEM}")
    return text, label


# Nimbus Sans Narrow (Debian fonts-urw-base35) is the closest offline match to the narrow gothics of US plates.
LATIN_FONT_NAMES = ("DejaVuSansCondensed-Bold.ttf", "LiberationSansNarrow-Bold.ttf", "NimbusSansNarrow-Bold.otf",
                    "NimbusSansNarrow-Regular.otf", "DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf",
                    "DejaVuSansMono-Bold.ttf")
CJK_FONT_NAMES = ("wqy-microhei.ttc", "wqy-zenhei.ttc", "NotoSansCJK-Bold.ttc", "NotoSansCJK-Regular.ttc",
                  "NotoSansCJKsc-Bold.otf", "uming.ttc", "ukai.ttc", "DroidSansFallbackFull.ttf")
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")


def _matplotlib_font_dir() -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@cache
def _system_fonts() -> dict[str, Path]:
    """File name -> path of every font file in the usual folders (the first one found wins)."""
    found: dict[str, Path] = {}
    for folder in SYSTEM_FONT_DIRS:
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() in (".ttf", ".ttc", ".otf"):
                    found.setdefault(path.name, path)
    return found


@cache
def find_fonts() -> list[Path]:
    """Bold Latin fonts, condensed ones first; matplotlib's bundled DejaVu is the fallback that always exists."""
    system = _system_fonts()
    fonts = [system[name] for name in LATIN_FONT_NAMES if name in system]
    bundled = _matplotlib_font_dir()
    if bundled is not None:
        have = {p.name for p in fonts}
        fonts += [bundled / n for n in LATIN_FONT_NAMES if n not in have and (bundled / n).is_file()]
    return fonts


def has_glyphs(path: Path, chars: str) -> bool:
    """True when the font's cmap maps every char: PIL would silently draw a .notdef box for a missing one."""
    try:
        from fontTools.ttLib import TTFont  # comes with matplotlib (an ultralytics dependency)
    except ImportError:
        return False
    try:
        cmap = TTFont(str(path), fontNumber=0, lazy=True).getBestCmap() or {}
    except Exception:  # a broken or unsupported font file is simply not a candidate
        return False
    return all(ord(c) in cmap for c in chars)


@cache
def find_cjk_font() -> Path | None:
    """A font with every province character, or None (then CN plates are drawn without the province)."""
    system = _system_fonts()
    candidates = [system[n] for n in CJK_FONT_NAMES if n in system]
    return next((p for p in candidates if has_glyphs(p, PROVINCES)), None)
