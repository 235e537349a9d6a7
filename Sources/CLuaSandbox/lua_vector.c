// The read-only vector userdata: a view of host float data (no copy) that is valid only
// during the call that received it, like pandoc's userdata views of host values.
#include "lsb_internal.h"
#include <stdlib.h>
#include <string.h>

lsb_vector *lsb_test_vector(lua_State *L, int idx) {
    return (lsb_vector *)luaL_testudata(L, idx, LSB_VECTOR_METATABLE);
}

static lsb_vector *check_live(lua_State *L) {
    lsb_vector *v = (lsb_vector *)luaL_checkudata(L, 1, LSB_VECTOR_METATABLE);
    if (!v->valid) luaL_error(L, LSB_INVALID_VECTOR);
    return v;
}

static void release_copy(lua_State *L, lsb_vector *v) {
    if (v->owned == NULL) return;
    lsb_from(L)->used -= (size_t)v->count * sizeof(float);
    free(v->owned);
    v->owned = NULL;
    v->data = NULL;
}

static int vector_index(lua_State *L) {
    lsb_vector *v = check_live(L);
    int exact = 0;
    lua_Integer i = lua_type(L, 2) == LUA_TNUMBER ? lua_tointegerx(L, 2, &exact) : 0;
    if (!exact || i < 1 || i > v->count) {
        if (lua_type(L, 2) == LUA_TSTRING)
            return luaL_error(L, "vector index '%s' out of range 1..%I", lua_tostring(L, 2), (lua_Integer)v->count);
        luaL_tolstring(L, 2, NULL);
        return luaL_error(L, "vector index %s out of range 1..%I", lua_tostring(L, -1), (lua_Integer)v->count);
    }
    lua_pushnumber(L, (lua_Number)v->data[i - 1]);
    return 1;
}

static int vector_newindex(lua_State *L) { return luaL_error(L, "vectors are read-only"); }

static int vector_len(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)check_live(L)->count);
    return 1;
}

static int vector_tostring(lua_State *L) {
    lua_pushfstring(L, "vector(%I)", (lua_Integer)check_live(L)->count);
    return 1;
}

static int vector_gc(lua_State *L) {
    release_copy(L, (lsb_vector *)luaL_checkudata(L, 1, LSB_VECTOR_METATABLE));
    return 0;
}

void lsb_open_vector(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"__index", vector_index}, {"__newindex", vector_newindex}, {"__len", vector_len},
        {"__tostring", vector_tostring}, {"__gc", vector_gc}, {NULL, NULL}};
    luaL_newmetatable(L, LSB_VECTOR_METATABLE);
    luaL_setfuncs(L, methods, 0);
    lua_pushliteral(L, "locked"); /* what the original getmetatable would show, were it reachable */
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

int lsb_push_vector(struct lua_State *L, const float *data, int64_t count, int copy) {
    lsb_sandbox *sb = lsb_from(L);
    float *owned = NULL;
    if (copy && count > 0) {
        owned = (float *)malloc((size_t)count * sizeof(float));
        if (owned == NULL) return 0;
        memcpy(owned, data, (size_t)count * sizeof(float));
        sb->used += (size_t)count * sizeof(float);
    }
    lsb_vector *v = (lsb_vector *)lua_newuserdatauv(L, sizeof *v, 0);
    v->data = owned ? owned : data;
    v->count = count;
    v->valid = 1;
    v->owned = owned;
    luaL_setmetatable(L, LSB_VECTOR_METATABLE);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lsb_live_vectors_key);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, ++sb->live_vectors);
    lua_pop(L, 1);
    return 1;
}

const float *lsb_vector_data(struct lua_State *L, int idx, int64_t *count, int *valid) {
    lsb_vector *v = lsb_test_vector(L, idx);
    if (v == NULL) {
        *count = -1;
        *valid = 0;
        return NULL;
    }
    *count = v->count;
    *valid = v->valid;
    return v->data;
}

/* Only raw gets and nil stores to existing keys: nothing here allocates or raises. */
void lsb_invalidate_vectors(lsb_sandbox *sb) {
    lua_State *L = sb->L;
    if (sb->live_vectors == 0 || !lua_checkstack(L, 2)) return;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lsb_live_vectors_key);
    for (lua_Integer i = 1; i <= sb->live_vectors; i++) {
        lsb_vector *v = lsb_test_vector(L, (lua_rawgeti(L, -1, i), -1));
        if (v != NULL) {
            v->valid = 0;
            release_copy(L, v);
        }
        lua_pop(L, 1);
        lua_pushnil(L);
        lua_rawseti(L, -2, i);
    }
    lua_pop(L, 1);
    sb->live_vectors = 0;
}
