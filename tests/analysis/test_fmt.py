import math

from analysis.present import fmt


def test_intervals_say_when_a_side_is_unbounded():
    assert fmt.interval(1020.4, 1066.6) == "[1020, 1067]"
    assert fmt.interval(1189.2, math.inf) == "≥ 1189"
    assert fmt.interval(-math.inf, 811.0) == "≤ 811"
    assert fmt.interval(-math.inf, math.inf) == "unbounded"
    assert fmt.interval(0.824, 1.0, 1, 100, "%") == "[82.4%, 100.0%]"
    assert fmt.interval(float("nan"), 3.0) == "–"


def test_ratings_and_p_values():
    assert fmt.rating(math.inf) == "unbounded" and fmt.rating(float("nan")) == "unidentified"
    assert fmt.rating(1043.49) == "1043"
    assert fmt.p_is(0.0004) == "p < 0.001" and fmt.p_is(0.0123) == "p = 0.012"
    assert fmt.percent(0.6254, 1) == "62.5%" and fmt.percent(None) == "–"
