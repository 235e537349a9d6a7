// Shared between the C files of the sandbox; not visible to Swift.
#ifndef FUNAD_LSB_INTERNAL_H
#define FUNAD_LSB_INTERNAL_H
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>
#include "include/lua_sandbox.h"

struct lsb_sandbox {
    lua_State *L;
    size_t used;              /* bytes allocated by the state plus vector copies */
    size_t limit;             /* memory limit in bytes */
    int marshalling;          /* > 0 while the host pushes or reads values */
    int refused;              /* the last growing allocation was refused (Lua may retry after a GC) */
    int aborted;              /* LSB_ABORT_*: sticky for the rest of the current call */
    int closing;              /* lua_close is running: never refuse memory */
    int64_t executed;         /* instructions counted in the current call */
    int64_t instruction_limit;
    int hook_count;           /* instructions between two hook calls */
    lua_Integer live_vectors; /* vectors registered since the last invalidation */
    void *ctx;
    lsb_print_fn print;
    lsb_log_fn log;
    lsb_host_fn host;
};

/* The read-only view of a float array handed to Lua. */
typedef struct {
    const float *data;
    int64_t count;
    int valid;
    float *owned; /* malloc'd copy (counted in `used`), or NULL when viewing host memory */
} lsb_vector;

#define LSB_VECTOR_METATABLE "funad.vector"
#define LSB_INVALID_VECTOR "vector used after the call that received it returned (copy what you need into a table during the call)"

lsb_sandbox *lsb_from(lua_State *L);
/* Registry key of the table that keeps this call's vectors (for invalidation). */
extern const char lsb_live_vectors_key;

void lsb_open_vector(lua_State *L);
/* The vector at idx, or NULL if it is not one (validity not checked). */
lsb_vector *lsb_test_vector(lua_State *L, int idx);
void lsb_open_funad(lua_State *L);

#endif
