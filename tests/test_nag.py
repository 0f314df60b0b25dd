"""xgradient.nag.check_deriv2 against NAG e04hd's contract and example."""

import warnings

import numpy as np
import pytest

from xgradient.nag import NagAlgorithmicWarning, NagValueError, check_deriv2

# NAG's example for e04hd: Powell's function at this point.
X = np.array([1.46, -0.82, 0.57, 1.21])
# Worked by hand from F = (x1 + 10 x2)^2 + 5 (x3 - x4)^2 + (x2 - 2 x3)^4 + 10 (x1 - x4)^4
# with x2 - 2 x3 = -1.96 and x1 - x4 = 0.25.
G_AT_X = np.array([-12.855, -164.918144, 53.836288, 5.775])
HESD_AT_X = np.array([9.5, 246.0992, 194.3968, 17.5])
HESL_AT_X = np.array([20.0, 0.0, -92.1984, -7.5, 0.0, -10.0])  # (2,1) (3,1) (3,2) (4,1) (4,2) (4,3)
BIG = 246.0992  # largest |H_ij|
LOWER = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]  # 0-based, order of hesl


def powell_grad(x):
    a, b, c, d = x[0] + 10 * x[1], x[1] - 2 * x[2], x[0] - x[3], x[2] - x[3]
    return np.array([2 * a + 40 * c**3, 20 * a + 4 * b**3, 10 * d - 8 * b**3, -10 * d - 40 * c**3])


def powell_hess(x):
    b2, c2 = 12 * (x[1] - 2 * x[2]) ** 2, 120 * (x[0] - x[3]) ** 2
    return np.array(
        [[2 + c2, 20, 0, -c2], [20, 200 + b2, -2 * b2, 0], [0, -2 * b2, 10 + 4 * b2, -10], [-c2, 0, -10, 10 + c2]],
        dtype=float,
    )


def powell_f(x):
    return (x[0] + 10 * x[1]) ** 2 + 5 * (x[2] - x[3]) ** 2 + (x[1] - 2 * x[2]) ** 4 + 10 * (x[0] - x[3]) ** 4


def callbacks(hess=powell_hess, scale=None):
    """NAG callbacks for Powell's function of x * scale, Hessian from `hess`."""
    s = np.ones(4) if scale is None else np.asarray(scale, dtype=float)

    def funct(iflag, xc):
        return iflag, powell_f(xc * s), s * powell_grad(xc * s)

    def h(iflag, xc, lh, fhesd):
        H = s[:, None] * hess(xc * s) * s[None, :]
        return iflag, H[tuple(np.array(LOWER).T)], np.diag(H).copy()

    return funct, h


def no_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


def single_warning(fn, *args):
    with pytest.warns(NagAlgorithmicWarning) as record:
        out = fn(*args)
    nag = [w.message for w in record if isinstance(w.message, NagAlgorithmicWarning)]
    assert len(nag) == 1
    return out, nag[0]


def test_powell_example_passes_and_returns_nag_values():
    funct, h = callbacks()
    g, hesl, hesd = no_warnings(check_deriv2, funct, h, X, 6)
    np.testing.assert_allclose(g, G_AT_X, rtol=1e-13)
    np.testing.assert_allclose(hesl, HESL_AT_X, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(hesd, HESD_AT_X, rtol=1e-13)


def wrong_by(i, j, delta):
    def hess(x):
        H = powell_hess(x)
        H[i, j] += delta
        H[j, i] = H[i, j]
        return H

    return hess


ALL_ENTRIES = LOWER + [(k, k) for k in range(4)]


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("i,j", ALL_ENTRIES)
def test_single_wrong_element_is_caught(i, j, sign):
    funct, h = callbacks(wrong_by(i, j, sign * 1e-3 * (1 + BIG)))
    (g, hesl, hesd), w = single_warning(check_deriv2, funct, h, X, 6)
    assert w.errno == 2
    assert f"H[{i + 1}, {j + 1}]" in str(w) or f"H[{j + 1}, {i + 1}]" in str(w)
    # The results are still returned, with the wrong value as h gave it.
    np.testing.assert_allclose(g, G_AT_X, rtol=1e-13)
    expected = HESD_AT_X[i] if i == j else HESL_AT_X[LOWER.index((i, j))]
    got = hesd[i] if i == j else hesl[LOWER.index((i, j))]
    assert got == pytest.approx(expected + sign * 1e-3 * (1 + BIG), rel=1e-13)


SCALE = np.array([1e-3, 1.0, 1e3, 1.0])


def test_badly_scaled_variables_raise_no_false_alarm():
    funct, h = callbacks(scale=SCALE)
    g, _, hesd = no_warnings(check_deriv2, funct, h, X / SCALE, 6)
    np.testing.assert_allclose(g, SCALE * G_AT_X, rtol=1e-12)
    np.testing.assert_allclose(hesd, SCALE**2 * HESD_AT_X, rtol=1e-12)


@pytest.mark.parametrize("i,j", ALL_ENTRIES)
def test_badly_scaled_wrong_element_is_caught(i, j):
    # The same relative error as in the unscaled test, carried through the
    # change of variables (the element scales by s_i s_j); it is far smaller
    # than 1e-3 * (1 + max |H|) of the scaled problem for most elements.
    delta = 1e-3 * (1 + BIG)
    funct, h = callbacks(wrong_by(i, j, delta), scale=SCALE)
    _, w = single_warning(check_deriv2, funct, h, X / SCALE, 6)
    assert w.errno == 2


@pytest.mark.parametrize("i,j", ALL_ENTRIES)
def test_badly_scaled_error_of_stated_size_is_caught(i, j):
    scaled_big = np.max(np.abs(SCALE[:, None] * powell_hess(X) * SCALE[None, :]))
    delta = 1e-3 * (1 + scaled_big) / (SCALE[i] * SCALE[j])  # 1e-3 (1 + max|H|) after scaling
    funct, h = callbacks(wrong_by(i, j, delta), scale=SCALE)
    _, w = single_warning(check_deriv2, funct, h, X / SCALE, 6)
    assert w.errno == 2


class Counting:
    """Powell callbacks that count calls and stop on a chosen call."""

    def __init__(self, stop_funct_at=None, stop_h_with=None):
        self.funct_calls = self.h_calls = 0
        self.stop_funct_at, self.stop_h_with = stop_funct_at, stop_h_with
        self._funct, self._h = callbacks()

    def funct(self, iflag, xc):
        self.funct_calls += 1
        assert iflag == 2
        iflag, fc, gc = self._funct(iflag, xc)
        if self.funct_calls == self.stop_funct_at:
            return -7, fc, gc
        return iflag, fc, gc

    def h(self, iflag, xc, lh, fhesd):
        self.h_calls += 1
        assert iflag >= 0
        iflag, fhesl, fhesd = self._h(iflag, xc, lh, fhesd)
        return (self.stop_h_with or iflag), fhesl, fhesd


def test_full_check_call_counts():
    c = Counting()
    no_warnings(check_deriv2, c.funct, c.h, X, 6)
    # g(x), then g(x +- h e_j) and g(x +- 2h e_j) for each of the 4 directions.
    assert (c.funct_calls, c.h_calls) == (1 + 4 * 4, 1)


@pytest.mark.parametrize("stop_at", [1, 2, 9, 17])
def test_termination_in_funct_ends_the_check_at_once(stop_at):
    c = Counting(stop_funct_at=stop_at)
    (g, _, hesd), w = single_warning(check_deriv2, c.funct, c.h, X, 6)
    assert w.errno == -7
    assert c.funct_calls == stop_at
    assert c.h_calls == (0 if stop_at == 1 else 1)
    if stop_at == 1:
        np.testing.assert_array_equal(g, np.zeros(4))
    else:
        np.testing.assert_allclose(g, G_AT_X, rtol=1e-13)
        np.testing.assert_allclose(hesd, HESD_AT_X, rtol=1e-13)


def test_termination_in_h_ends_the_check_at_once():
    c = Counting(stop_h_with=-3)
    (g, hesl, hesd), w = single_warning(check_deriv2, c.funct, c.h, X, 6)
    assert w.errno == -3
    assert (c.funct_calls, c.h_calls) == (1, 1)
    np.testing.assert_allclose(g, G_AT_X, rtol=1e-13)
    np.testing.assert_array_equal(hesl, np.zeros(6))
    np.testing.assert_array_equal(hesd, np.zeros(4))


@pytest.mark.parametrize(
    "x,lh,message",
    [
        ([], 1, "On entry, n = 0. Constraint: n >= 1."),
        (X, 5, "On entry, lh = 5 and n = 4. Constraint: lh >= max(1, n*(n-1)/2)."),
        ([0.3], 0, "On entry, lh = 0 and n = 1. Constraint: lh >= max(1, n*(n-1)/2)."),
    ],
)
def test_argument_errors_are_raised_before_any_callback(x, lh, message):
    c = Counting()
    with pytest.raises(NagValueError) as err:
        check_deriv2(c.funct, c.h, x, lh)
    assert err.value.errno == 1
    assert isinstance(err.value, ValueError)
    assert str(err.value) == message
    assert (c.funct_calls, c.h_calls) == (0, 0)


def test_data_reaches_both_callbacks():
    funct0, h0 = callbacks()
    data = {"funct": 0, "h": 0}

    def funct(iflag, xc, data):
        data["funct"] += 1
        return funct0(iflag, xc)

    def h(iflag, xc, lh, fhesd, data):
        data["h"] += 1
        return h0(iflag, xc, lh, fhesd)

    g, _, _ = no_warnings(check_deriv2, funct, h, X, 6, data=data)
    assert data == {"funct": 17, "h": 1}
    np.testing.assert_allclose(g, G_AT_X, rtol=1e-13)


def test_fhesd_holds_the_gradient_on_entry_and_may_be_reused():
    funct, _ = callbacks()
    seen = []

    def h(iflag, xc, lh, fhesd):
        # An e04lb-style callback: reads the gradient from fhesd, then
        # overwrites it in place with the diagonal.
        seen.append((xc.copy(), fhesd.copy()))
        H = powell_hess(xc)
        fhesd[:] = np.diag(H)
        return iflag, H[tuple(np.array(LOWER).T)], fhesd

    g, _, hesd = no_warnings(check_deriv2, funct, h, X, 6)
    (xc, fhesd_in), = seen
    np.testing.assert_array_equal(xc, X)
    np.testing.assert_allclose(fhesd_in, G_AT_X, rtol=1e-13)
    np.testing.assert_allclose(g, G_AT_X, rtol=1e-13)  # not overwritten by h
    np.testing.assert_allclose(hesd, HESD_AT_X, rtol=1e-13)


def test_longer_lh_returns_whole_array():
    funct, h0 = callbacks()

    def h(iflag, xc, lh, fhesd):
        iflag, fhesl, fhesd = h0(iflag, xc, lh, fhesd)
        return iflag, np.concatenate([fhesl, np.full(lh - 6, 99.0)]), fhesd

    _, hesl, _ = no_warnings(check_deriv2, funct, h, X, 9)
    np.testing.assert_allclose(hesl, np.concatenate([HESL_AT_X, [99.0] * 3]), atol=1e-13)


@pytest.mark.parametrize("d2", [12 * 1.7**2, 12 * 1.7**2 * 1.002])
def test_one_variable(d2):
    # F = x^4 at x = 1.7: F'' = 12 x^2; lh = 1 and hesl is ignored.
    def funct(iflag, xc):
        return iflag, xc[0] ** 4, np.array([4 * xc[0] ** 3])

    def h(iflag, xc, lh, fhesd):
        return iflag, np.zeros(lh), np.array([d2])

    if d2 == 12 * 1.7**2:
        g, _, _ = no_warnings(check_deriv2, funct, h, [1.7], 1)
        assert g[0] == pytest.approx(4 * 1.7**3, rel=1e-14)
    else:
        _, w = single_warning(check_deriv2, funct, h, [1.7], 1)
        assert w.errno == 2
