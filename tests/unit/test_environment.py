"""approval_core.environment: one whitespace rule and one error for every service's
configuration; the error names the variable and the fix."""

import pytest

from approval_core.environment import ConfigurationError, Environment

ENVIRON = {
    "NAME": "  records  ",
    "BLANK": " \t",
    "LIST": " a, ,b ,, c ",
    "COUNT": " 3 ",
    "ZERO": "0",
}


def test_values_are_stripped_and_a_blank_one_is_not_set():
    environment = Environment(ENVIRON)
    assert environment.required("NAME") == "records"
    assert environment.optional("BLANK", "fallback") == "fallback"
    assert environment.optional("MISSING") == ""
    assert environment.comma_separated("LIST") == ("a", "b", "c")
    assert environment.comma_separated("BLANK") == ()
    assert environment.integer("COUNT", 1, minimum=1) == 3
    assert environment.integer("BLANK", 7, minimum=1) == 7
    assert environment.seconds("ZERO", 3600) == 0
    assert environment.seconds("MISSING", 3600) == 3600


@pytest.mark.parametrize("name", ["MISSING", "BLANK"])
def test_a_required_variable_not_set_is_named_with_the_fix(name):
    with pytest.raises(ConfigurationError) as raised:
        Environment(ENVIRON).required(name)
    assert str(raised.value).startswith(f"{name} (function environment) is not set: deploy")


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_whole_number_below_its_minimum_or_not_one_is_named_with_the_fix(raw):
    with pytest.raises(ConfigurationError) as raised:
        Environment({"COUNT": raw}).integer("COUNT", 1, minimum=1)
    assert str(raised.value) == (
        f"COUNT (function environment) is {raw!r}: set it to a whole number, 1 or more (default 1)."
    )


def test_seconds_say_what_zero_means():
    with pytest.raises(ConfigurationError) as raised:
        Environment({"WAIT": "-1"}).seconds("WAIT", 60, zero_means="waits forever")
    assert str(raised.value) == (
        "WAIT (function environment) is '-1': set it to a whole number of seconds, 0 or more "
        "(0 waits forever; default 60)."
    )
