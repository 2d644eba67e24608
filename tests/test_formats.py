"""Format templates, confusable correction and candidate ranking."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.errors import FormatConfigError
from pipeline.formats import Region, Template, load_regions, parse_regions
from pipeline.postprocess import (
    PostprocessConfig,
    TemplatePolicy,
    candidates_for,
    expand_alternatives,
    template_verdict,
)
from pipeline.reader import merge_regions
from pipeline.records import CharGuess, PlateCandidate, RawText
from platestream.settings import CoreSettings


def raw(*options: tuple[tuple[str, float], ...]) -> RawText:
    return RawText(tuple(CharGuess(o) for o in options))


def plain(text: str, p: float = 0.9) -> RawText:
    return raw(*(((c, p),) for c in text))


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("LLLNNNN", "ABC1234", ("ABC1234", 0)),
        ("LLLNNNN", "A8C12S4", ("ABC1254", 2)),  # 8 -> B where a letter must be, S -> 5 where a digit must be
        ("LLLNLNN", "0BC1D23", ("OBC1D23", 1)),
        ("LLNNLLL", "AB12CDE", ("AB12CDE", 0)),
        ("LLNNLLL", "AB1ZCDE", ("AB12CDE", 1)),
        ("LLLNNNN", "ABC123", None),  # wrong length
        ("LLLNNNN", "ABC12X4", None),  # X has no digit look-alike
        ("LLL*NN", "ABCX12", ("ABCX12", 0)),
    ],
)
def test_template_fit(pattern: str, text: str, expected: tuple[str, int] | None) -> None:
    assert Template(pattern).fit(text) == expected


def test_region_picks_the_template_needing_fewest_fixes() -> None:
    region = load_regions()["br"]
    assert region.best_fit("ABC1D23") == ("ABC1D23", True)  # Mercosur as read
    assert region.best_fit("ABC1234") == ("ABC1234", True)  # old format as read
    assert region.best_fit("ABC12") == ("ABC12", False)


def test_candidates_prefer_template_matches_and_correct_confusables() -> None:
    # "A8C1234": the 8 in a letter position is corrected to B by the Brazilian template
    found = candidates_for(plain("A8C1234"), load_regions()["br"], PostprocessConfig())
    assert found[0].plate == "ABC1234" and found[0].matches_template


def test_alternatives_make_ranked_candidates() -> None:
    text = raw((("A", 0.9),), (("B", 0.6), ("8", 0.4)), (("1", 0.95),))
    assert [t for t, _ in expand_alternatives(text, beam=10)] == ["AB1", "A81"]
    found = candidates_for(text, Region("generic"), PostprocessConfig(top_n=5))
    assert [c.plate for c in found] == ["AB1", "A81"]
    assert found[0].confidence == pytest.approx(100 * (0.9 * 0.6 * 0.95) ** (1 / 3), abs=0.01)
    assert 0 < found[1].confidence < found[0].confidence <= 100


def test_length_limits_drop_candidates() -> None:
    assert candidates_for(plain("A"), load_regions()["generic"], PostprocessConfig()) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"nope": {}}, "'regions' mapping"),
        ({"regions": {"x": ["LLL"]}}, "must be a mapping"),
        ({"regions": {"x": {"templates": ["LL-N"]}}}, "use L"),
        ({"regions": {"x": {"min_length": 5, "max_length": 3}}}, "min_length"),
        ({"regions": {"x": {"min_length": "many"}}}, "region 'x'"),
    ],
)
def test_bad_region_config_is_rejected(data: object, message: str) -> None:
    with pytest.raises(FormatConfigError, match=message):
        parse_regions(data)


def test_unreadable_regions_file(tmp_path: Path) -> None:
    bad = tmp_path / "regions.yaml"
    bad.write_text("regions: [unclosed")
    with pytest.raises(FormatConfigError, match="cannot read"):
        load_regions(bad)


# --- template policy (PLATESTREAM_TEMPLATE_POLICY) --------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "fits", "expected"),
    [
        ("off", True, (True, None)),
        ("off", False, (True, None)),  # off: templates only rank and correct; nothing is judged
        ("flag", True, (True, True)),
        ("flag", False, (True, False)),  # kept, marked as fitting no template
        ("drop", True, (True, True)),
        ("drop", False, (False, False)),  # not reported
    ],
)
def test_template_policy(policy: TemplatePolicy, fits: bool, expected: tuple[bool, bool | None]) -> None:
    best = PlateCandidate("AB12CDE" if fits else "7ABC123", 90.0, fits)
    assert template_verdict(best, load_regions()["gb"], policy) == expected


@pytest.mark.parametrize("policy", ["off", "flag", "drop"])
def test_regions_without_templates_judge_nothing(policy: TemplatePolicy) -> None:
    assert template_verdict(PlateCandidate("XYZ", 90.0), load_regions()["generic"], policy) == (True, None)


def test_best_candidate_decides_under_a_region() -> None:
    # "AB1ZCDE" fits the UK layout once Z -> 2; "XYZXYZX" fits neither the UK nor the Californian one
    fits = candidates_for(plain("AB1ZCDE"), load_regions()["gb"], PostprocessConfig())
    assert template_verdict(fits[0], load_regions()["gb"], "drop") == (True, True)
    tx = candidates_for(plain("ABC123"), load_regions()["us-tx"], PostprocessConfig())
    assert template_verdict(tx[0], load_regions()["us-tx"], "drop") == (True, True)
    merged = merge_regions(("gb", "us-ca"), load_regions())
    ca = candidates_for(plain("7ABC123"), merged, PostprocessConfig())
    assert template_verdict(ca[0], merged, "drop") == (True, True)
    odd = candidates_for(plain("XYZXYZX"), merged, PostprocessConfig())
    assert template_verdict(odd[0], merged, "drop") == (False, False)


def test_state_regions_ship_with_the_default_file() -> None:
    regions = load_regions()
    assert {"generic", "us", "us-ca", "us-ny", "us-tx"} <= set(regions)
    assert regions["us-ca"].best_fit("7ABCI23") == ("7ABC123", True)  # I -> 1 in a digit position


def test_bad_regions_file_stops_settings_check(tmp_path: Path) -> None:
    bad = tmp_path / "regions.yaml"
    bad.write_text("regions:\n  gb: {templates: [LL-NN]}\n")
    with pytest.raises(FormatConfigError, match="use L"):
        CoreSettings(regions_file=bad, regions="gb").check_regions()
    with pytest.raises(FormatConfigError, match="unknown region"):
        CoreSettings(regions="atlantis").check_regions()
    with pytest.raises(ValidationError, match="template_policy"):
        CoreSettings(template_policy="sometimes")  # type: ignore[arg-type]


@pytest.mark.parametrize(("region", "read", "expected"), [
    ("ro", "B144M0S", "B144MOS"),   # O in a letter group
    ("ro", "B121PHD", "B121PHD"),   # Bucharest, three digits: no template turns its 1 into I
    ("ro", "SB90TZ1", "SB90TZI"),   # a county plate
    ("fr", "AB1Z3CD", "AB123CD"),
    ("it", "EX1Z3CD", "EX123CD"),
    ("es", "I234BCD", "1234BCD"),
    ("in", "KA0SMF5055", "KA05MF5055"),
    ("in", "DL7CQ1939", "DL7CQ1939"),
])
def test_european_and_indian_regions_correct_by_position(region: str, read: str, expected: str) -> None:
    assert load_regions()[region].best_fit(read) == (expected, True)


def test_us_reports_the_letter_o_as_zero_and_forces_no_layout() -> None:
    """Most US states issue no letter O or treat it as 0, and their layouts are too many for templates: the old
    loose `us` templates turned Nevada-style `2DA044` into `ZDA044` (LLLNNN)."""
    us = load_regions()["us"]
    assert us.best_fit("DONOR") == ("D0N0R", False)
    assert us.best_fit("2DA044") == ("2DA044", False)
    assert template_verdict(candidates_for(plain("2DA044"), us, PostprocessConfig())[0], us, "drop") == (True, None)
    # two reads that differ only by O and 0 are one candidate, at the better confidence
    read = raw((("C", 0.99),), (("O", 0.6), ("0", 0.4)), (("A", 0.99),))
    found = candidates_for(read, us, PostprocessConfig())
    assert [c.plate for c in found] == ["C0A"] and found[0].confidence == candidates_for(
        read, load_regions()["generic"], PostprocessConfig())[0].confidence
    assert load_regions()["generic"].best_fit("DONOR") == ("DONOR", False)


def test_a_look_alike_is_folded_only_where_every_chosen_region_folds_it() -> None:
    regions = load_regions()
    assert merge_regions(("us",), regions).best_fit("NOX218") == ("N0X218", False)
    assert merge_regions(("us", "generic"), regions).best_fit("NOX218") == ("NOX218", False)
    assert merge_regions(("us", "br"), regions).best_fit("NOX2183") == ("NOX2183", True)  # Brazil has the letter O
    assert merge_regions(("us-ca", "us"), regions).best_fit("DONOR") == ("D0N0R", False)  # a vanity plate
    assert regions["us-ca"].best_fit("7OBC1O3") == ("7OBC103", True)  # a template's letter place keeps its O


@pytest.mark.parametrize(("spec", "message"), [
    ("[O, 0]", "same_as must map"),
    ("{O: OO}", "must map one plate character"),
    ("{O: O}", "must map one plate character"),
    ("{'-': '0'}", "must map one plate character"),
])
def test_bad_same_as_is_refused(tmp_path: Path, spec: str, message: str) -> None:
    bad = tmp_path / "regions.yaml"
    bad.write_text(f"regions:\n  xx: {{same_as: {spec}}}\n")
    with pytest.raises(FormatConfigError, match=message):
        load_regions(bad)
