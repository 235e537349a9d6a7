// The `funad` table: numeric helpers over a vector or a Lua sequence of numbers,
// written in C so that scripts do not loop in Lua over 25k-element feature maps, and so
// that their argument errors are raised where raising is safe. Results follow numpy's
// defaults (population std, "linear" quantile, numpy.histogram binning) and
// skimage.filters.threshold_otsu, computed in double precision.
#include "lsb_internal.h"
#include <math.h>
#include <stdlib.h>

/* Input values: either the vector's floats (no copy) or doubles read from a table. */
typedef struct {
    const float *f;
    const double *d;
    int64_t n;
} seq;

static double at(const seq *s, int64_t i) { return s->f ? (double)s->f[i] : s->d[i]; }

static void check_seq(lua_State *L, int idx, const char *fname, seq *s) {
    lsb_vector *v = lsb_test_vector(L, idx);
    if (v != NULL) {
        if (!v->valid) luaL_error(L, LSB_INVALID_VECTOR);
        s->f = v->data;
        s->d = NULL;
        s->n = v->count;
        return;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: expected a vector or a table of numbers, got %s", fname, luaL_typename(L, idx));
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    double *d = (double *)lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof(double), 0);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, idx, i) != LUA_TNUMBER)
            luaL_error(L, "%s: element %I is not a number (got %s)", fname, i, luaL_typename(L, -1));
        d[i - 1] = (double)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    s->f = NULL;
    s->d = d;
    s->n = n;
}

static void check_nonempty(lua_State *L, const seq *s, const char *fname) {
    if (s->n == 0) luaL_error(L, "%s: empty vector", fname);
}

/* Like numpy, a NaN anywhere makes min and max NaN. */
static double seq_min(const seq *s) {
    double m = at(s, 0);
    for (int64_t i = 1; i < s->n; i++) {
        double x = at(s, i);
        if (x < m || x != x) m = x;
        if (m != m) break;
    }
    return m;
}

static double seq_max(const seq *s) {
    double m = at(s, 0);
    for (int64_t i = 1; i < s->n; i++) {
        double x = at(s, i);
        if (x > m || x != x) m = x;
        if (m != m) break;
    }
    return m;
}

static double seq_sum(const seq *s) {
    double t = 0;
    for (int64_t i = 0; i < s->n; i++) t += at(s, i);
    return t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A sorted copy, owned by a userdata pushed on the stack (so the memory limit applies). */
static double *sorted_copy(lua_State *L, const seq *s) {
    double *d = (double *)lua_newuserdatauv(L, (size_t)(s->n > 0 ? s->n : 1) * sizeof(double), 0);
    for (int64_t i = 0; i < s->n; i++) d[i] = at(s, i);
    qsort(d, (size_t)s->n, sizeof(double), cmp_double);
    return d;
}

static int f_min(lua_State *L) {
    seq s;
    check_seq(L, 1, "funad.min", &s);
    check_nonempty(L, &s, "funad.min");
    lua_pushnumber(L, seq_min(&s));
    return 1;
}

static int f_max(lua_State *L) {
    seq s;
    check_seq(L, 1, "funad.max", &s);
    check_nonempty(L, &s, "funad.max");
    lua_pushnumber(L, seq_max(&s));
    return 1;
}

static int f_sum(lua_State *L) {
    seq s;
    check_seq(L, 1, "funad.sum", &s);
    lua_pushnumber(L, seq_sum(&s));
    return 1;
}

static int f_mean(lua_State *L) {
    seq s;
    check_seq(L, 1, "funad.mean", &s);
    check_nonempty(L, &s, "funad.mean");
    lua_pushnumber(L, seq_sum(&s) / (double)s.n);
    return 1;
}

/* Population standard deviation (ddof 0, numpy's default), two passes for accuracy. */
static int f_std(lua_State *L) {
    seq s;
    check_seq(L, 1, "funad.std", &s);
    check_nonempty(L, &s, "funad.std");
    double mean = seq_sum(&s) / (double)s.n, ss = 0;
    for (int64_t i = 0; i < s.n; i++) {
        double d = at(&s, i) - mean;
        ss += d * d;
    }
    lua_pushnumber(L, sqrt(ss / (double)s.n));
    return 1;
}

/* numpy's "linear" method: position q·(n−1) between the closest ranks, interpolated
   with numpy's two-sided lerp (exact at both ends). */
static int f_quantile(lua_State *L) {
    seq s;
    check_seq(L, 1, "funad.quantile", &s);
    double q = (double)luaL_checknumber(L, 2);
    if (!(q >= 0 && q <= 1)) return luaL_error(L, "funad.quantile: q must be in [0, 1], got %f", (lua_Number)q);
    check_nonempty(L, &s, "funad.quantile");
    double *d = sorted_copy(L, &s);
    double pos = q * (double)(s.n - 1);
    int64_t lo = (int64_t)floor(pos);
    int64_t hi = lo + 1 < s.n ? lo + 1 : s.n - 1;
    double t = pos - (double)lo, a = d[lo], b = d[hi], diff = b - a;
    lua_pushnumber(L, t >= 0.5 ? b - diff * (1 - t) : a + diff * t);
    return 1;
}

static int f_sorted(lua_State *L) {
    seq s;
    check_seq(L, 1, "funad.sorted", &s);
    double *d = sorted_copy(L, &s);
    lua_createtable(L, s.n < INT32_MAX ? (int)s.n : INT32_MAX, 0);
    for (int64_t i = 0; i < s.n; i++) {
        lua_pushnumber(L, d[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* numpy.histogram with `bins` equal-width bins over [min, max] (widened by ±0.5 when
   all values are equal), the last bin closed. Fills counts[bins] and edges[bins + 1]. */
static void histogram(lua_State *L, const seq *s, lua_Integer bins, const char *fname,
                      int64_t *counts, double *edges) {
    double lo = seq_min(s), hi = seq_max(s);
    if (!isfinite(lo) || !isfinite(hi))
        luaL_error(L, "%s: range [%f, %f] is not finite", fname, (lua_Number)lo, (lua_Number)hi);
    if (lo == hi) {
        lo -= 0.5;
        hi += 0.5;
    }
    double step = (hi - lo) / (double)bins;
    for (lua_Integer i = 0; i < bins; i++) edges[i] = (double)i * step + lo;
    edges[bins] = hi;
    for (lua_Integer i = 0; i < bins; i++) counts[i] = 0;
    for (int64_t k = 0; k < s->n; k++) {
        double x = at(s, k);
        lua_Integer i = (lua_Integer)((x - lo) / (hi - lo) * (double)bins);
        if (i == bins) i--;
        if (x < edges[i]) i--;
        else if (i != bins - 1 && x >= edges[i + 1]) i++;
        counts[i]++;
    }
}

static lua_Integer check_bins(lua_State *L, int idx, const char *fname) {
    lua_Integer bins = luaL_checkinteger(L, idx);
    if (bins < 1 || bins > (1 << 24)) luaL_error(L, "%s: bins must be in 1..16777216, got %I", fname, bins);
    return bins;
}

static int f_histogram(lua_State *L) {
    seq s;
    check_seq(L, 1, "funad.histogram", &s);
    lua_Integer bins = check_bins(L, 2, "funad.histogram");
    check_nonempty(L, &s, "funad.histogram");
    int64_t *counts = (int64_t *)lua_newuserdatauv(L, (size_t)bins * sizeof(int64_t), 0);
    double *edges = (double *)lua_newuserdatauv(L, (size_t)(bins + 1) * sizeof(double), 0);
    histogram(L, &s, bins, "funad.histogram", counts, edges);
    lua_createtable(L, (int)bins, 0);
    for (lua_Integer i = 0; i < bins; i++) {
        lua_pushinteger(L, (lua_Integer)counts[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_createtable(L, (int)bins + 1, 0);
    for (lua_Integer i = 0; i <= bins; i++) {
        lua_pushnumber(L, edges[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 2;
}

/* skimage.filters.threshold_otsu: over the histogram's bin centres, the centre that
   maximises the between-class variance w1·w2·(m1 − m2)² of splitting after it (first
   maximum wins). All-equal input returns that value. */
static int f_otsu(lua_State *L) {
    seq s;
    check_seq(L, 1, "funad.otsu", &s);
    lua_Integer bins = check_bins(L, 2, "funad.otsu");
    check_nonempty(L, &s, "funad.otsu");
    double lo = seq_min(&s), hi = seq_max(&s);
    if (lo == hi) {
        lua_pushnumber(L, lo);
        return 1;
    }
    int64_t *counts = (int64_t *)lua_newuserdatauv(L, (size_t)bins * sizeof(int64_t), 0);
    double *edges = (double *)lua_newuserdatauv(L, (size_t)(bins + 1) * sizeof(double), 0);
    histogram(L, &s, bins, "funad.otsu", counts, edges);
    double total = 0, total_moment = 0;
    for (lua_Integer i = 0; i < bins; i++) {
        double centre = (edges[i] + edges[i + 1]) / 2;
        total += (double)counts[i];
        total_moment += (double)counts[i] * centre;
    }
    double w1 = 0, m1sum = 0, best = -1, threshold = (edges[0] + edges[1]) / 2;
    for (lua_Integer i = 0; i + 1 < bins; i++) {
        double centre = (edges[i] + edges[i + 1]) / 2;
        w1 += (double)counts[i];
        m1sum += (double)counts[i] * centre;
        double w2 = total - w1;
        if (w1 == 0 || w2 == 0) continue;
        double m1 = m1sum / w1, m2 = (total_moment - m1sum) / w2;
        double variance = w1 * w2 * (m1 - m2) * (m1 - m2);
        if (variance > best) {
            best = variance;
            threshold = centre;
        }
    }
    lua_pushnumber(L, threshold);
    return 1;
}

static int f_log(lua_State *L) {
    size_t len = 0;
    const char *name = luaL_checklstring(L, 1, &len);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "funad.log: value for '%s' must be a number, got %s", name, luaL_typename(L, 2));
    double value = (double)lua_tonumber(L, 2);
    if (!isfinite(value)) return luaL_error(L, "funad.log: value for '%s' is not finite (%f)", name, (lua_Number)value);
    lsb_sandbox *sb = lsb_from(L);
    if (sb->log) sb->log(sb->ctx, name, len, value);
    return 0;
}

void lsb_open_funad(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"min", f_min}, {"max", f_max}, {"sum", f_sum}, {"mean", f_mean}, {"std", f_std},
        {"quantile", f_quantile}, {"sorted", f_sorted}, {"histogram", f_histogram},
        {"otsu", f_otsu}, {"log", f_log}, {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_pushliteral(L, "1");
    lua_setfield(L, -2, "version");
    lua_setglobal(L, "funad");
}
