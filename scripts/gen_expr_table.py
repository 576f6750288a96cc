#!/usr/bin/env python3
"""Generates Tests/ExprEvalTests/Fixtures/expr_table.json: expressions and CPython's values.

Run from the repository root with a plain CPython 3.11 (no packages needed):

    python3 scripts/gen_expr_table.py

Each expression is evaluated with Python's own `eval` in a namespace built the way CLIPig builds
it (spec §3.1/§3.2): the builtins clipig supports, every public name of `math` (so `pow` is
math's float `pow`), the random functions, and the variables and aliases of spec §3.2 for a given
context. `ts(a, b)` is written here exactly as the spec describes it.

Random functions draw from `TableRandom`, a `random.Random` whose `random()` is SplitMix64
(53-bit floats) and whose normal draws are one Box–Muller sample from two uniforms — the same
generator the Swift test implements — so that `uniform`, `randint`, `choice`, `triangular`, …
run through CPython's own code on the same stream of uniforms that the Swift side sees.

The table keeps the Python type of every result, so int and float are told apart; the test
compares floats with a relative tolerance of 1e-12 and, where the values are identical, also
compares `repr`. CI never runs this script; the JSON it writes is committed.
"""

import json
import math
import os
import random
import sys

SEED = 20211217  # per-entry seed of TableRandom
MASK = (1 << 64) - 1


class TableRandom(random.Random):
    """SplitMix64 uniforms; normal() = Box–Muller; gauss/normalvariate = mu + normal() * sigma."""

    def __init__(self, seed):
        self.state = seed & MASK
        super().__init__()

    def seed(self, *args, **kwargs):  # called by random.Random.__init__; the state is ours
        pass

    def next64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def random(self):
        return (self.next64() >> 11) * 2.0**-53

    def normal(self):
        u1 = self.random()
        while u1 <= 0:
            u1 = self.random()
        u2 = self.random()
        return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)

    def gauss(self, mu=0.0, sigma=1.0):
        return mu + self.normal() * sigma

    def normalvariate(self, mu=0.0, sigma=1.0):
        return mu + self.normal() * sigma


BUILTINS = [
    "abs", "all", "any", "bool", "divmod", "float", "int", "len", "list", "max", "min", "round",
    "sorted", "str", "sum", "tuple",
]
RANDOM_FUNCTIONS = [
    "random", "uniform", "gauss", "normalvariate", "lognormvariate", "expovariate", "randint",
    "randrange", "choice", "triangular",
]

DEFAULT_CONTEXT = {
    "epoch": 150, "epochs": 300, "width": 224, "height": 160, "learnrate": 0.003,
    "learnrate_scale": 0.75, "similarity": 27.5,
}


def namespace(ctx, rng):
    """The names an expression sees, for context `ctx` (spec §3.1, §3.2)."""
    import builtins

    ns = {name: getattr(builtins, name) for name in BUILTINS}
    ns.update({k: getattr(math, k) for k in dir(math) if not k.startswith("_")})
    ns.update({name: getattr(rng, name) for name in RANDOM_FUNCTIONS})

    epoch, epochs = ctx["epoch"], ctx["epochs"]
    t = ctx["t"] if "t" in ctx else epoch / max(1, epochs - 1)
    ti = 1 - t

    def ts(a, b):
        # Spec §3.2: swap when b < a (and invert the result); 0 before a; 1 after b or when
        # a == b (t >= a); linear in between.
        inverted = False
        if b < a:
            a, b = b, a
            inverted = True
        if t < a:
            s = 0.0
        elif t > b or a == b:
            s = 1.0
        else:
            s = (t - a) / (b - a)
        return 1.0 - s if inverted else s

    width, height = ctx["width"], ctx["height"]
    variables = {
        "epoch": epoch,
        "time": t, "t": t,
        "time2": t**2, "t2": t**2, "time3": t**3, "t3": t**3,
        "time4": t**4, "t4": t**4, "time5": t**5, "t5": t**5,
        "time_inverse": ti, "ti": ti,
        "time_inverse2": ti**2, "ti2": ti**2, "time_inverse3": ti**3, "ti3": ti**3,
        "time_inverse4": ti**4, "ti4": ti**4, "time_inverse5": ti**5, "ti5": ti**5,
        "time_step": ts, "ts": ts,
        "resolution": [width, height], "res": [width, height],
        "width": width, "height": height,
        "learnrate": ctx["learnrate"], "lr": ctx["learnrate"],
        "learnrate_scale": ctx["learnrate_scale"], "lrs": ctx["learnrate_scale"],
        "similarity": ctx["similarity"], "sim": ctx["similarity"],
    }
    ns.update(variables)
    return ns


def encode(v):
    """A JSON form of a Python value that keeps its type (floats as their repr)."""
    if v is None:
        return {"none": None}
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        if not -(2**63) <= v < 2**63:
            raise ValueError(f"int {v} does not fit in 64 bits")
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": repr(v)}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, list):
        return {"list": [encode(x) for x in v]}
    if isinstance(v, tuple):
        return {"tuple": [encode(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[encode(k), encode(x)] for k, x in v.items()]}
    raise TypeError(f"cannot encode {type(v).__name__}")


# ---------------------------------------------------------------------------------------------
# The expressions. Each is (expression, context overrides) or just an expression string.

LITERALS = [
    "0", "42", "-17", "1_000", "0x1F", "0o17", "0b101", "0xff_ff", ".5", "5.", "1e3", "1E-3",
    "1.5e+10", "1_0.0_1", "1e400", "1e-400", "0.1", "1e16", "1e15", "123456789.125", "1e-05",
    "0.0001", "True", "False", "None", "'abc'", '"a\'b"', "'a\\nb'", "r'a\\nb'",
    "'\\x41\\u00e9'", "'ab' 'cd'", '"""tri"""', "[]", "[1, 2.5, 'x']", "()", "(1,)", "(1, 2)",
    "1, 2", "{}", "{1: 'a', 'b': 2}", "{1: 'a', 1.0: 'b', True: 'c'}", "[1, [2, (3,)]]",
    "[1, 2,]", "-0.0", "'it''s'", "'tab\\there'", "\"quote'\"", "'both\\'\"'",
]

ARITHMETIC = [
    "1 + 2", "1 + 2.0", "True + True", "7 - 10", "3 * 4", "3 * 4.0", "7 / 2", "6 / 3",
    "-7 / 2", "7 // 2", "-7 // 2", "7 // -2", "-7 // -2", "7.5 // 2", "-7.5 // 2", "7 // 2.5",
    "7 % 3", "-7 % 3", "7 % -3", "-7 % -3", "7.5 % 2", "-7.5 % 2", "7.5 % -2", "-0.0 % 5",
    "5 % 0.7", "0.0 // -3", "2 ** 10", "2 ** -1", "(-2) ** 3", "(-2) ** -3", "2 ** 0.5",
    "-2 ** 2", "(-2) ** 2", "2 ** 3 ** 2", "(2 ** 3) ** 2", "-2 ** -2", "2 ** -2 ** 2",
    "0 ** 0", "0.0 ** 0", "1 ** 1000000000", "(-1) ** 1000000001", "10 ** 18", "2 ** 62",
    "4 ** 0.5", "(-8) ** 3.0", "1.5 ** 2", "inf ** 0", "nan ** 0", "1 ** nan", "2 ** inf",
    "0.5 ** inf", "(-inf) ** 3", "(-inf) ** -3", "(-inf) ** 2", "0.1 + 0.2", "1e308 * 10",
    "-1e308 * 10", "3 - True", "True * 2.5", "9007199254740993 / 1", "1 / 3",
]

UNARY_BITWISE = [
    "-5", "+5", "--5", "-+-5", "~5", "~-1", "-True", "+True", "~True", "not 0", "not 'a'",
    "not []", "-(-0.0)", "5 & 3", "5 | 3", "5 ^ 3", "True & False", "True | 2", "True ^ True",
    "1 << 10", "-16 >> 2", "-1 >> 100", "5 >> 1", "1 << 62", "6 & 3 | 8 ^ 1", "~0 & 0xff",
]

PRECEDENCE = [
    "1 + 2 * 3", "(1 + 2) * 3", "2 * 3 ** 2", "-3 ** 2", "10 - 4 - 3", "100 / 10 / 5",
    "2 ** 2 ** 3", "1 + 2 << 3", "1 << 2 + 3", "5 & 3 + 1", "1 | 2 ^ 3 & 4",
    "not 1 + 1 == 3", "1 < 2 == True", "-2 * -3", "7 % 4 * 2", "2 * 7 % 4", "1 - -1",
    "8 // 3 * 3 + 8 % 3", "-7 // 2 * 2 + -7 % 2", "2 ** -1 * 4", "-2 ** 0.5",
    "not True or True", "not (True or True)", "1 + 2 if False else 3 + 4", "- - - 1",
    "2 * -3 ** 2", "2 ** ~1", "~2 ** 2", "1 if 0 else 2 ** 3", "(1, 2)[1] ** 2",
    "-res[0]", "-{1: 2}.get(1)", "10 - 2 * 3 // 4 % 5 ** 2",
]

COMPARISONS = [
    "1 < 2", "2 < 1", "1 <= 1.0", "1 == 1.0", "1 == True", "1 != 2", "0 < t < .5",
    "0 < t < .4", "1 < 2 < 3 < 4", "1 < 3 > 2", "1 < 2 > 3", "'abc' < 'abd'", "'a' < 'B'",
    "[1, 2] < [1, 3]", "[1, 2] < [1, 2, 0]", "(1, 2) == (1, 2)", "[1, 2] == (1, 2)",
    "None == None", "None is None", "None is not None", "1 is None", "2 in [1, 2]",
    "3 not in [1, 2]", "'b' in 'abc'", "'' in 'abc'", "1 in {1: 2}", "2 in {1: 2}",
    "1.0 in [1]", "nan == nan", "nan != nan", "nan < 1", "inf > 1e308",
    "2 ** 53 + 1 == 2.0 ** 53", "2 ** 53 == 2.0 ** 53", "9007199254740993 > 9007199254740992.0",
    "{1: 2} == {1: 2.0}", "{1: 2, 3: 4} == {3: 4, 1: 2}", "[1, [2]] == [1, [2.0]]",
    "0.5 >= t", "epoch >= 150", "epoch == 150.0", "True > False", "'a' != 'a'", "3 >= 3 >= 2",
]

BOOLEAN = [
    "1 and 2", "0 and 2", "1 or 2", "0 or 2", "0 or ''", "'' or []", "[] and 1",
    "None or 'x'", "not 1 and 0", "1 or 1/0", "0 and 1/0", "t > 0.4 and 'late' or 'early'",
    "1 if True else 2", "'a' if 0 else 'b'", "1 if 0 else 2 if 0 else 3",
    "(1 if t > .5 else 0) + 1", "10 if t < .25 else 20 if t < .75 else 30",
    "1 if 1 else 1/0", "[] or {} or 0.0", "1 and [] and 3",
]

INDEXING = [
    "[10, 20, 30][0]", "[10, 20, 30][-1]", "[10, 20, 30][-3]", "(1, 2)[1]", "'hello'[1]",
    "'hello'[-1]", "{1: 'a'}[1]", "{1: 'a'}[1.0]", "{1: 'a'}[True]", "{(1, 2): 'p'}[1, 2]",
    "[1, 2, 3, 4, 5][1:3]", "[1, 2, 3, 4, 5][::2]", "[1, 2, 3, 4, 5][::-1]",
    "[1, 2, 3, 4, 5][-2:]", "[1, 2, 3, 4, 5][:-2]", "'abcdef'[1:5:2]", "(1, 2, 3)[5:]",
    "[1, 2, 3][10:0:-1]", "[1, 2, 3][True]", "res[0]", "res[1]", "res[-1]", "res[-2]",
    "[[1, 2], [3, 4]][1][0]", "'abc'[:]", "[1, 2, 3][-100:100]", "[1, 2, 3, 4][::-2]",
    "{0: 8}.get(0)", "{0: 8}.get(1)", "{0: 8}.get(1, 9)", "{0: 8}.get(0.0, 9)",
    "{'a': 1}.get('a', 0)", "{1: 2, 3: 4}.get(t > .4, -1)", "{0: 'x', 1: 'y'}.get(epoch % 2)",
    "{}.get(1, 'd')", "{1: 2}.get(1.5, 0)", "{-5: 'neg', 1000: 'big'}.get(1000)",
    "{'w': width}.get('w') * 2", "{t: 1}.get(t)", "{(1, 2): 3}.get((1, 2))",
]

VARIABLES = [
    "epoch", "time", "t", "time2", "t2", "time3", "t3", "time4", "t4", "time5", "t5",
    "time_inverse", "ti", "time_inverse2", "ti2", "time_inverse3", "ti3", "time_inverse4",
    "ti4", "time_inverse5", "ti5", "resolution", "res", "width", "height", "learnrate", "lr",
    "learnrate_scale", "lrs", "similarity", "sim",
    # Typical CLIPig parameter expressions.
    "1. - .95 * pow(t, 5.)", "1/5*ti", "max(8, min(224, int(t * 224)))", "224 / width",
    "width // 2", "res[0] * 2", "lr * 100", "sim / 100", "learnrate_scale * 2", "t * epoch",
    "[width, height]", "res[0] / res[1]", "2 * ti2 + 1", "int(224 * (1 + t))",
    "(ti ** 2) * 10", "sin(t * pi) ** 2",
]

TIME_STEP = [
    ("ts(0, 1)", {"t": 0.3}), ("time_step(0, 1)", {"t": 0.3}),
    ("ts(.5, 1)", {"t": 0.3}),   # t < a → 0
    ("ts(.2, .4)", {"t": 0.3}),  # between → (t - a) / (b - a)
    ("ts(0, .2)", {"t": 0.3}),   # t > b → 1
    ("ts(.3, .3)", {"t": 0.3}),  # a == b, t >= a → 1
    ("ts(.5, .5)", {"t": 0.3}),  # a == b, t < a → 0
    ("ts(1, 0)", {"t": 0.3}),    # inverted, between
    ("ts(.5, 0)", {"t": 0.3}),   # inverted, between
    ("ts(1, .5)", {"t": 0.3}),   # inverted, t < a → 1
    ("ts(.2, 0)", {"t": 0.3}),   # inverted, t > b → 0
    ("ts(.5, 1)", {"t": 0.75}), ("ts(.5, 0)", {"t": 0.0}), ("ts(.5, 0)", {"t": 0.25}),
    ("ts(0.5, 1)", {"t": 1.0}), ("ts(0, 1)", {"epoch": 299}), ("ts(1, 1)", {"t": 1.0}),
    ("ts(2, 3)", {"t": 0.5}), ("1 - ts(0, .5)", {"t": 0.1}),
]

METHOD2 = "{0: 8, 1: 8, 2: 16, 3: 32, 4: 64, 5: 128}.get(int(t*16), 224)"
SCHEDULE = [
    (expr, {"epoch": e, "epochs": 300})
    for e in [0, 1, 37, 38, 56, 57, 74, 75, 93, 94, 112, 113, 150, 298, 299]
    for expr in [METHOD2, "int(t*16)"]
]

MATH = [
    "sin(1)", "cos(1)", "tan(1)", "asin(.5)", "acos(.5)", "atan(1)", "atan2(1, -1)",
    "sinh(1)", "cosh(1)", "tanh(.5)", "asinh(1)", "acosh(2)", "atanh(.5)", "exp(1)",
    "exp2(10)", "expm1(1e-10)", "log(10)", "log(8, 2)", "log(100, 10)", "log2(8)",
    "log10(1000)", "log1p(1e-10)", "sqrt(2)", "sqrt(16)", "cbrt(27)", "pow(2, 10)",
    "pow(2, .5)", "pow(-8, 3)", "pow(0, 0)", "hypot(3, 4)", "hypot(1, 2, 2)", "hypot()",
    "fabs(-3)", "floor(2.7)", "floor(-2.7)", "floor(3)", "ceil(2.1)", "ceil(-2.1)",
    "trunc(-2.7)", "trunc(2.7)", "fmod(7, 3)", "fmod(-7, 3)", "fmod(7, -3)", "fmod(5, inf)",
    "copysign(3, -0.0)", "degrees(pi)", "radians(180)", "pi", "e", "tau", "inf", "-inf", "nan",
    "isclose(1, 1 + 1e-10)", "isclose(1, 1.1)", "isclose(1, 1.1, rel_tol=0.2)",
    "isclose(0, 1e-12, abs_tol=1e-9)", "isfinite(inf)", "isinf(-inf)", "isnan(nan)",
    "isnan(1)", "erf(.5)", "erfc(.5)", "gamma(5)", "gamma(.5)", "lgamma(10)", "lgamma(-1.5)",
    "factorial(10)", "factorial(0)", "comb(10, 3)", "comb(3, 5)", "comb(60, 30)", "perm(5, 2)",
    "perm(5)", "gcd(12, 18)", "gcd(0, -4)", "gcd()", "lcm(4, 6)", "lcm()", "isqrt(17)",
    "isqrt(10 ** 18)", "frexp(8.0)", "frexp(0.0)", "modf(2.5)", "modf(-2.5)", "ldexp(.5, 4)",
    "remainder(7, 3)", "remainder(5, 2)", "nextafter(1, 2)", "ulp(1)", "ulp(0)",
    "fsum([.1] * 10)", "fsum([1e100, 1.0, -1e100])", "prod([1, 2, 3, 4])", "prod([1.5, 2])",
    "prod([], start=5)", "dist((1, 2), (4, 6))", "atan2(0, -1)", "sqrt(True)", "exp(-inf)",
    "log(inf)",
]

BUILTIN_CALLS = [
    "abs(-3)", "abs(-3.5)", "abs(True)", "abs(-0.0)", "round(2.5)", "round(3.5)",
    "round(-2.5)", "round(0.5)", "round(1.5)", "round(2.675, 2)", "round(0.125, 2)",
    "round(0.375, 2)", "round(1234.5678, -2)", "round(1250, -2)", "round(1350, -2)",
    "round(-1250, -2)", "round(1250.0, -2)", "round(1350.0, -2)", "round(5, 2)",
    "round(2.5, 0)", "round(-0.4)", "round(123.456, 1)", "round(7.5, None)",
    "round(1e300, 2)", "round(-1234.5678, -1)", "round(0.5, -1)", "round(True)",
    "round(2.5, ndigits=0)", "int(2.7)", "int(-2.7)", "int('12')", "int(' 42 ')",
    "int('-1_000')", "int(True)", "int('ff', 16)", "int('0x1f', 0)", "int('101', 2)",
    "int(1e18)", "int('zz', base=36)", "float(3)", "float('1e-3')", "float(' 2.5 ')",
    "float('inf')", "float('-Infinity')", "float('nan')", "float(True)", "float('1_0.5')",
    "float('.5')", "bool(0)", "bool(0.0)", "bool('')", "bool('false')", "bool([])",
    "bool([0])", "bool()", "int()", "float()", "str(1.5)", "str('a')", "str([1, 'a'])",
    "str(None)", "len([1, 2, 3])", "len('h\u00e9llo')", "len({1: 2, 3: 4})", "len(())",
    "min(3, 1, 2)", "max(3, 1, 2)", "min([4, 2, 8])", "max('abc')", "min(1, 1.0)",
    "max(1, 1.0)", "min(2.5, 2)", "max([], default=7)", "min((), default=None)",
    "max(1, True)", "max(nan, 1)", "max(1, nan)", "min([3], default=0)", "max([2, 5], key=None)", "sum([1, 2, 3])", "sum([1, 2.5])", "sum([])",
    "sum([[1], [2]], [])", "sum([0.1] * 10)", "sum((1, 2), 10)", "sum([1, 2], start=0.5)",
    "divmod(7, 2)", "divmod(-7, 2)", "divmod(7.5, 2)", "divmod(-7.5, 2)", "divmod(True, 2)",
    "sorted([3, 1, 2])", "sorted([3, 1, 2], reverse=True)", "sorted('cab')",
    "sorted([2.5, 1, True])", "sorted([(2, 'b'), (1, 'z'), (2, 'a')])", "list((1, 2))",
    "list('ab')", "list({1: 2})", "tuple([1, 2])", "list()", "tuple()", "any([0, 0, 1])",
    "all([1, 1, 0])", "any([])", "all([])", "any('')", "all({0: 1})",
]

SEQUENCES = [
    "'ab' + 'cd'", "'ab' * 3", "3 * 'ab'", "[1] * 3", "[1, 2] + [3]", "(1,) + (2,)",
    "'ab' * 0", "[0] * -1", "'x' * True", "'\u00e9' * 2", "[1, 2] * 2 + [3]", "() * 5",
    "'abc' < 'abcd'", "'\u00e9' > 'z'", "'ab'[::-1] + 'c'",
]

RANDOM = [
    "random()", "random() + random()", "uniform(1, 3)", "uniform(3, 1)", "uniform(0, 10)",
    "gauss(0, 1)", "gauss(10, 2)", "gauss()", "gauss(sigma=3)", "normalvariate(5, .5)",
    "lognormvariate(0, .25)", "expovariate(2)", "randint(1, 6)", "randint(-3, 3)",
    "randrange(10)", "randrange(5, 10)", "randrange(0, 100, 5)", "randrange(10, 0, -2)",
    "randrange(2 ** 40)", "choice([1, 2, 3])", "choice('abc')", "choice((7,))",
    "triangular()", "triangular(0, 10)", "triangular(0, 10, 8)", "triangular(2, 2, 2)",
    "randint(1, 6) + randint(1, 6)", "[random(), random()]", "random() < 2",
    "uniform(a=1, b=2)", "randrange(0, 10, 3)", "0 if random() < .5 else 1",
    "{0: 'a', 1: 'b'}.get(randint(0, 1))",
]

# Run-time errors, with CPython's messages (the Swift side must give the same text).
ERRORS = [
    "1/0", "1.0/0", "1//0", "1.0//0", "1%0", "1.0%0", "0**-1", "0.0**-1", "[1][2]",
    "(1,)[2]", "'a'[3]", "1+'a'", "'a'+1", "[1]+1", "-'a'", "1<'a'", "None<1", "int('2.7')",
    "float('x')", "int([1])", "len(5)", "abs('a')", "[1][1.0]", "{}.get([1])", "{[1]: 2}",
    "sum(['a'], '')", "min([])", "res.get(1)", "~1.5", "1 & 1.5", "1 << -1", "round(inf)",
    "round(nan)", "sqrt(-1)", "log(0)", "log(-1)", "log(2, 1)", "exp(1000)", "factorial(-1)",
    "factorial(2.0)", "fmod(1, 0)", "pow(0, -1)", "pow(-8, .5)", "pow(10, 400)", "floor(inf)",
    "gamma(0)", "atanh(1)", "isqrt(-1)", "comb(-1, 2)", "choice([])", "randrange(0)",
    "randrange(1, 1)", "randrange(0, 10, 0)", "randrange(1.5)", "randint(1, 0)",
    "isclose(1, 1, rel_tol=-1)", "'abc' * 2.0", "[1] * 'a'", "divmod(1, 0)",
    "divmod(1.0, 0)", "int('z', 37)", "int(5, 10)", "sorted([1, 'a'])", "ldexp(1.0, 2.0)",
    "fsum([1e308, 1e308])", "dist([1], [1, 2])", "max([])", "1 < [1]", "[1] < (1,)",
    "{1: 2} < {1: 2}", "int(inf)", "int(nan)", "float([1])", "'a' in 1", "1 in 'a'",
    "sqrt('a')", "round('a')", "trunc('a')", "max(1, 2, default=0)", "log(0, 2)",
    "exp2(2000)", "cosh(1000)", "lgamma(0)", "remainder(inf, 1)", "1 + None", "None + 1",
    "[1, 2][5:1:0]", "{1: 2}[3]", "{1: 2}[[1]]", "'abc'['a']", "expovariate(0)",
    "randrange(10, 5)", "triangular('a')", "gcd(2.5)", "ulp('a')", "1 if 2 < 'a' else 3",
    "t[0]", "epoch[0]",
]

# Errors whose clipig message deliberately differs from CPython's (only "it fails" is checked).
ERRORS_OWN_MESSAGE = {"{1: 2}[3]"}


def entries():
    groups = [
        ("literal", LITERALS), ("arithmetic", ARITHMETIC), ("unary/bitwise", UNARY_BITWISE),
        ("precedence", PRECEDENCE), ("comparison", COMPARISONS), ("boolean", BOOLEAN),
        ("indexing", INDEXING), ("variable", VARIABLES), ("time_step", TIME_STEP),
        ("schedule", SCHEDULE), ("math", MATH), ("builtin", BUILTIN_CALLS),
        ("sequence", SEQUENCES), ("random", RANDOM), ("error", ERRORS),
    ]
    for category, items in groups:
        for item in items:
            expr, overrides = (item, {}) if isinstance(item, str) else item
            yield category, expr, overrides


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "Tests", "ExprEvalTests", "Fixtures", "expr_table.json")
    table = []
    seen = set()
    for category, expr, overrides in entries():
        key = (expr, json.dumps(overrides, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        ctx = dict(DEFAULT_CONTEXT)
        ctx.update(overrides)
        rng = TableRandom(SEED)
        entry = {"category": category, "expr": expr, "context": ctx}
        try:
            value = eval(expr, {"__builtins__": {}}, namespace(ctx, rng))
            entry["result"] = encode(value)
            entry["repr"] = repr(value)
            if category == "error":
                sys.exit(f"expected an error from {expr!r}, got {value!r}")
        except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as error:
            if category != "error":
                sys.exit(f"unexpected error from {expr!r}: {error!r}")
            entry["error"] = str(error)
            entry["error_type"] = type(error).__name__
            entry["check_message"] = expr not in ERRORS_OWN_MESSAGE
        table.append(entry)
    document = {
        "generator": "scripts/gen_expr_table.py",
        "python": sys.version.split()[0],
        "seed": SEED,
        "entries": table,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(table)} entries to {os.path.relpath(out_path, root)}")


if __name__ == "__main__":
    main()
