import pytest

from profiling.core.series import least_squares_slope


def test_least_squares_slope_of_a_line_is_exact():
    points = [(x, 3.0 * x + 7.0) for x in range(10)]
    assert least_squares_slope(points) == pytest.approx(3.0)


def test_least_squares_slope_fits_noisy_points_not_two_ends():
    # Two-point difference of the ends would be (10 - 0) / 4 = 2.5; the fit is 2.2.
    points = [(0, 0.0), (1, 4.0), (2, 4.0), (3, 6.0), (4, 10.0)]
    assert least_squares_slope(points) == pytest.approx(2.2)


def test_least_squares_slope_needs_two_distinct_x():
    assert least_squares_slope([]) is None
    assert least_squares_slope([(1.0, 5.0)]) is None
    assert least_squares_slope([(1.0, 5.0), (1.0, 6.0)]) is None
