// The sandboxed state: allocator (memory limit), count hook (instruction limit),
// the allow-listed libraries and the replaced base functions. See lua_sandbox.h.
#include "lsb_internal.h"
#include <stdio.h>
#include <stdlib.h>

const char lsb_live_vectors_key = 0;
/* Registry key of the original math.randomseed: a script may replace the global one,
   but the host's per-call reseeding must keep working. */
static const char randomseed_key = 0;

lsb_sandbox *lsb_from(lua_State *L) {
    void *ud = NULL;
    (void)lua_getallocf(L, &ud);
    return (lsb_sandbox *)ud;
}

/* Refuses growth past the limit unless the host is marshalling or the state is closing.
   Lua answers a refusal with an emergency collection and one retry; only when the retry
   is refused too is the call marked as aborted, so garbage alone never aborts a script. */
static void *lsb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    lsb_sandbox *sb = (lsb_sandbox *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (nsize > old && sb->marshalling == 0 && !sb->closing) {
        size_t grow = nsize - old;
        if (sb->used + grow < sb->used || sb->used + grow > sb->limit) {
            if (sb->refused && sb->aborted == LSB_ABORT_NONE) sb->aborted = LSB_ABORT_MEMORY;
            sb->refused = 1;
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) return NULL; /* the machine is out of memory: Lua raises its memory error */
    if (nsize > old) sb->refused = 0;
    sb->used = sb->used - old + nsize;
    return p;
}

/* Raising from a count hook is allowed; it returns control to the host's lua_pcall
   (the sandbox's pcall/xpcall/load re-raise once `aborted` is set). */
static void lsb_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lsb_sandbox *sb = lsb_from(L);
    sb->executed += sb->hook_count;
    if (sb->executed > sb->instruction_limit && sb->aborted == LSB_ABORT_NONE)
        sb->aborted = LSB_ABORT_INSTRUCTIONS;
    if (sb->aborted != LSB_ABORT_NONE)
        luaL_error(L, "%s limit exceeded", sb->aborted == LSB_ABORT_MEMORY ? "memory" : "instruction");
}

/* Every Lua call made by the host is protected, so this means a host bug. Returning
   would let Lua abort anyway, after unwinding into undefined state: stop clearly. */
static int lsb_panic(lua_State *L) {
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)";
    fprintf(stderr, "funad: unprotected Lua error (host bug): %s\n", msg);
    fflush(stderr);
    abort();
    return 0;
}

/* A limit hit inside a protected call must not be swallowed by it: once the call is
   aborted, re-raise. A memory error that Lua raised without our retry bookkeeping
   (e.g. during a collection step) counts as a memory abort too. */
static void lsb_reraise_if_aborted(lua_State *L, lsb_sandbox *sb, int status) {
    if (sb->aborted == LSB_ABORT_NONE && (status == LUA_ERRMEM || (status != LUA_OK && sb->refused)))
        sb->aborted = LSB_ABORT_MEMORY;
    if (sb->aborted != LSB_ABORT_NONE) {
        if (status == LUA_OK) lua_pushliteral(L, "call aborted");
        lua_error(L);
    }
}

static int lsb_pcall(lua_State *L) {
    lsb_sandbox *sb = lsb_from(L);
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    lsb_reraise_if_aborted(L, sb, status);
    lua_pushboolean(L, status == LUA_OK);
    lua_insert(L, 1);
    return lua_gettop(L);
}

static int lsb_xpcall(lua_State *L) {
    lsb_sandbox *sb = lsb_from(L);
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 1);  /* f, msgh, args..., f */
    lua_copy(L, 2, 1);    /* msgh, msgh, args..., f */
    lua_replace(L, 2);    /* msgh, f, args... */
    int status = lua_pcall(L, n - 2, LUA_MULTRET, 1);
    lsb_reraise_if_aborted(L, sb, status);
    lua_pushboolean(L, status == LUA_OK);
    lua_replace(L, 1);
    return lua_gettop(L);
}

/* load(chunk [, chunkname [, mode [, env]]]): the mode is always "t" (a binary chunk gets
   Lua's own "attempt to load a binary chunk" message); without env the chunk sees the
   sandbox globals. A limit hit inside a reader function is re-raised, not returned. */
static int lsb_load_wrapper(lua_State *L) {
    lsb_sandbox *sb = lsb_from(L);
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    if (n >= 2) lua_pushvalue(L, 2);
    else lua_pushnil(L);
    lua_pushliteral(L, "t");
    if (n >= 4) lua_pushvalue(L, 4);
    lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
    int failed = lua_isnil(L, n + 1);
    lsb_reraise_if_aborted(L, sb, failed ? LUA_ERRRUN : LUA_OK);
    return lua_gettop(L) - n;
}

static int lsb_getmetatable(lua_State *L) {
    if (lsb_test_vector(L, 1) != NULL)
        return luaL_error(L, "getmetatable: vectors have no accessible metatable");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Like Lua's print (tostring of each argument, tab-separated), to the host. */
static int lsb_print(lua_State *L) {
    lsb_sandbox *sb = lsb_from(L);
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len = 0;
    const char *s = lua_tolstring(L, -1, &len);
    if (sb->print) sb->print(sb->ctx, s, len);
    return 0;
}

static void lsb_replace_with_upvalue(lua_State *L, const char *name, lua_CFunction f) {
    lua_getglobal(L, name);
    lua_pushcclosure(L, f, 1);
    lua_setglobal(L, name);
}

/* Allow-list (as Redis does): base, math, string, table, utf8. Not io, os, debug,
   package or coroutine. Runs inside lua_pcall, so errors here are reported, not fatal. */
static int lsb_setup(lua_State *L) {
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base}, {LUA_MATHLIBNAME, luaopen_math}, {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL}};
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    lua_getglobal(L, LUA_MATHLIBNAME);
    lua_getfield(L, -1, "randomseed");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &randomseed_key);
    lua_pop(L, 1);

    static const char *const removed[] = {"dofile", "loadfile", "collectgarbage", "require", NULL};
    for (const char *const *name = removed; *name; name++) {
        lua_pushnil(L);
        lua_setglobal(L, *name);
    }
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);

    lua_pushcfunction(L, lsb_print);
    lua_setglobal(L, "print");
    lua_pushcfunction(L, lsb_pcall);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, lsb_xpcall);
    lua_setglobal(L, "xpcall");
    lsb_replace_with_upvalue(L, "load", lsb_load_wrapper);
    lsb_replace_with_upvalue(L, "getmetatable", lsb_getmetatable);

    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lsb_live_vectors_key);
    lsb_open_vector(L);
    lsb_open_funad(L);
    return 0;
}

lsb_sandbox *lsb_new(size_t memory_limit, int64_t instruction_limit, void *ctx,
                     lsb_print_fn print, lsb_log_fn log, lsb_host_fn host) {
    lsb_sandbox *sb = (lsb_sandbox *)calloc(1, sizeof *sb);
    if (sb == NULL) return NULL;
    sb->limit = memory_limit;
    sb->instruction_limit = instruction_limit;
    sb->hook_count = instruction_limit < 1000 ? (instruction_limit < 1 ? 1 : (int)instruction_limit) : 1000;
    sb->ctx = ctx;
    sb->print = print;
    sb->log = log;
    sb->host = host;
    sb->marshalling = 1; /* the host's own setup is not the script's memory */
    lua_State *L = lua_newstate(lsb_alloc, sb);
    if (L == NULL) {
        free(sb);
        return NULL;
    }
    sb->L = L;
    lua_atpanic(L, lsb_panic);
    lua_pushcfunction(L, lsb_setup);
    int status = lua_pcall(L, 0, 0, 0);
    sb->marshalling = 0;
    if (status != LUA_OK) {
        lsb_free(sb);
        return NULL;
    }
    lua_sethook(L, lsb_hook, LUA_MASKCOUNT, sb->hook_count);
    return sb;
}

void lsb_free(lsb_sandbox *sb) {
    if (sb == NULL) return;
    sb->closing = 1;
    sb->aborted = LSB_ABORT_INSTRUCTIONS; /* finalizers run by lua_close stop at their first hook */
    lua_close(sb->L);
    free(sb);
}

struct lua_State *lsb_state(lsb_sandbox *sb) { return sb->L; }
void lsb_marshal_begin(lsb_sandbox *sb) { sb->marshalling++; }
void lsb_marshal_end(lsb_sandbox *sb) { sb->marshalling--; }
int lsb_abort_kind(const lsb_sandbox *sb) { return sb->aborted; }
size_t lsb_memory_in_use(const lsb_sandbox *sb) { return sb->used; }

int lsb_load(lsb_sandbox *sb, const char *source, size_t length, const char *chunkname) {
    sb->aborted = LSB_ABORT_NONE;
    sb->refused = 0;
    return luaL_loadbufferx(sb->L, source, length, chunkname, "t");
}

int lsb_call(lsb_sandbox *sb, int nargs, int nresults, uint64_t seed) {
    lua_State *L = sb->L;
    sb->marshalling++;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &randomseed_key);
    lua_pushinteger(L, (lua_Integer)seed);
    int status = lua_pcall(L, 1, 0, 0);
    sb->marshalling--;
    if (status != LUA_OK) {
        lua_replace(L, -(nargs + 2)); /* the error takes the function's slot */
        lua_pop(L, nargs);
        return status;
    }
    sb->executed = 0;
    sb->aborted = LSB_ABORT_NONE;
    sb->refused = 0;
    return lua_pcall(L, nargs, nresults, 0);
}

void lsb_push_globals(struct lua_State *L) { lua_pushglobaltable(L); }

static int lsb_host_trampoline(lua_State *L) {
    lsb_sandbox *sb = lsb_from(L);
    int id = (int)lua_tointeger(L, lua_upvalueindex(1));
    sb->marshalling++;
    int results = sb->host(sb->ctx, L, id);
    sb->marshalling--;
    if (results < 0) { /* message on top: prefix the caller's position, like luaL_error */
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
        return lua_error(L);
    }
    if (sb->used > sb->limit) { /* the result was allowed past the limit while marshalling */
        sb->aborted = LSB_ABORT_MEMORY;
        return luaL_error(L, "memory limit exceeded");
    }
    return results;
}

static int lsb_register_impl(lua_State *L) {
    /* table name, function name, id */
    lua_pushglobaltable(L);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, 1);
        lua_pushvalue(L, -2);
        lua_rawset(L, -4);
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_pushcclosure(L, lsb_host_trampoline, 1);
    lua_rawset(L, -3);
    return 0;
}

int lsb_register(lsb_sandbox *sb, const char *table, const char *name, int id) {
    lua_State *L = sb->L;
    sb->marshalling++;
    int status = LUA_ERRMEM;
    if (lua_checkstack(L, 4)) {
        lua_pushcfunction(L, lsb_register_impl);
        lua_pushstring(L, table);
        lua_pushstring(L, name);
        lua_pushinteger(L, id);
        status = lua_pcall(L, 3, 0, 0);
        if (status != LUA_OK) lua_pop(L, 1);
    }
    sb->marshalling--;
    return status;
}
