// Lua 5.4 for Swift. Several of Lua's API entry points are C macros that Swift cannot
// import; they are re-exposed here as static inline functions with the same meaning.
#ifndef FUNAD_CLUA_SHIM_H
#define FUNAD_CLUA_SHIM_H
#include <lua5.4/lua.h>
#include <lua5.4/lualib.h>
#include <lua5.4/lauxlib.h>

static inline int funad_lua_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    return lua_pcall(L, nargs, nresults, msgh);
}
static inline double funad_lua_tonumber(lua_State *L, int idx, int *isnum) {
    return (double)lua_tonumberx(L, idx, isnum);
}
static inline const char *funad_lua_tostring(lua_State *L, int idx) {
    return lua_tolstring(L, idx, NULL);
}
static inline void funad_lua_pop(lua_State *L, int n) { lua_settop(L, -(n)-1); }
static inline void funad_lua_newtable(lua_State *L) { lua_createtable(L, 0, 0); }
static inline int funad_luaL_dostring(lua_State *L, const char *s) { return luaL_dostring(L, s); }
static inline int funad_luaL_loadbuffer(lua_State *L, const char *buf, size_t n, const char *name) {
    return luaL_loadbufferx(L, buf, n, name, "t");
}
static inline int funad_lua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int funad_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int funad_lua_isnil(lua_State *L, int idx) { return lua_isnil(L, idx); }
static inline int funad_lua_istable(lua_State *L, int idx) { return lua_istable(L, idx); }
#endif
