"""MiniOneRec's title rule, one rule per test, plus the free-text cleaners."""

from genrec.data.cleaning import clean_categories, clean_text, clean_title, unwrap_list_literal


def test_missing_or_non_string_title_is_dropped():
    assert clean_title(None) is None
    assert clean_title(12) is None


def test_html_span_title_is_dropped():
    assert clean_title('<span id="x">Nice drill</span>') is None


def test_entities_unescaped_then_spaces_then_quotes_stripped():
    assert clean_title("  &quot;Drill &amp; Bits&quot; ") == "Drill & Bits"
    # only one strip of each: a space inside the quotes survives, as in the original
    assert clean_title('" Drill"') == " Drill"


def test_one_character_title_is_dropped_two_kept():
    assert clean_title("X") is None
    assert clean_title(' "X" ') is None
    assert clean_title("XY") == "XY"


def test_more_than_20_words_is_dropped():
    assert clean_title(" ".join(["w"] * 20)) == " ".join(["w"] * 20)
    assert clean_title(" ".join(["w"] * 21)) is None


def test_words_are_counted_on_single_spaces_like_the_original():
    # split(" ") counts empty strings between double spaces: 11 tokens + 10 empties = 21 > 20
    assert clean_title("  ".join(["w"] * 11)) is None


def test_clean_text_joins_lists_removes_tags_and_collapses_space():
    assert clean_text(["<p>Strong &amp; light</p>", "", "  fits\nall "]) == "Strong & light fits all"
    assert clean_text(None) == ""


def test_categories_flatten_2014_paths_and_drop_html():
    assert clean_categories([["Tools", "Drills"], ["Sale</span>"]]) == ["Tools", "Drills"]
    assert clean_categories("A,B") == ["A", "B"]
    assert clean_categories(None) == []


def test_release_list_repr_descriptions_are_unwrapped():
    assert unwrap_list_literal("['Relay kit.', 'Made in China.']") == "Relay kit. Made in China."
    assert unwrap_list_literal("[not a list") == "[not a list"
