"""The public surface of pceval.privacy: a change to it shows up in this list."""

import pceval.privacy


def test_exported_names():
    assert sorted(pceval.privacy.__all__) == [
        "PLACEHOLDERS",
        "SERVICE_NUMBERS",
        "ScrubResult",
        "Scrubber",
        "disclosure_violations",
        "load_key",
        "new_key",
        "pool_small_groups",
        "pseudonymise",
        "scrub_series",
        "scrub_text",
        "suppress_results",
        "write_key_file",
    ]
    for name in pceval.privacy.__all__:
        assert getattr(pceval.privacy, name) is not None


def test_given_name_lists_are_packaged():
    from pceval.privacy.scrub import given_names, name_words

    names, words = given_names(), name_words()
    assert len(names) > 300 and "Sarah" in names and "Nguyet" in names
    assert {"may", "will", "grace", "hope", "faith", "joy", "rose", "mark"} <= words
    assert not {n.lower() for n in names} & words
