// The C half of funad's embedded Lua host.
//
// Lua reports errors with longjmp, and a longjmp must never cross a Swift frame. So
// everything that Lua calls and that can raise a Lua error lives here, in C: the
// allocator with its memory limit, the instruction-count hook, the sandbox's
// replacements of pcall/xpcall/load/getmetatable/print, the read-only vector
// userdata, the `funad` numeric helpers and the trampoline that calls Swift host
// functions (Swift returns a status; this side raises the Lua error).
//
// The header deliberately does not include Lua's headers: Swift gets the Lua API from
// the CLua module, and a second textual copy of lua.h here would make every Lua
// declaration ambiguous. A `struct lua_State *` is an OpaquePointer on both sides.
#ifndef FUNAD_LUA_SANDBOX_H
#define FUNAD_LUA_SANDBOX_H
#include <stddef.h>
#include <stdint.h>

struct lua_State;

/// One sandboxed Lua state with its limits and host callbacks (opaque).
typedef struct lsb_sandbox lsb_sandbox;

/// Receives what the script printed (one line, tab-separated, without newline).
typedef void (*lsb_print_fn)(void *ctx, const char *text, size_t length);
/// Receives one funad.log(name, value) record.
typedef void (*lsb_log_fn)(void *ctx, const char *name, size_t length, double value);
/// Calls host function `id` with the arguments at stack slots 1...top. Returns the
/// number of results it pushed (0 or 1), or -1 after pushing an error message string.
/// It runs with the marshalling flag set and must not raise a Lua error.
typedef int (*lsb_host_fn)(void *ctx, struct lua_State *L, int id);

/// Why the current call was aborted (sticky until the next call starts).
enum { LSB_ABORT_NONE = 0, LSB_ABORT_MEMORY = 1, LSB_ABORT_INSTRUCTIONS = 2 };

/// Creates the state, opens the allow-listed libraries and installs the sandbox.
/// Returns NULL if that fails (only when the machine is out of memory).
lsb_sandbox *lsb_new(size_t memory_limit, int64_t instruction_limit, void *ctx,
                     lsb_print_fn print, lsb_log_fn log, lsb_host_fn host);
/// Closes the state (finalizers run with the instruction budget already spent) and frees it.
void lsb_free(lsb_sandbox *sb);
struct lua_State *lsb_state(lsb_sandbox *sb);

/// While the host marshals values (count > 0), allocations may exceed the memory limit,
/// so that no Lua API call made from Swift can fail with a memory error. The next
/// allocation made by the script after that fails cleanly.
void lsb_marshal_begin(lsb_sandbox *sb);
void lsb_marshal_end(lsb_sandbox *sb);

/// Compiles text (never binary) `source` as chunk `chunkname` ("@file.lua") and pushes
/// the function, or an error message. Returns the Lua status.
int lsb_load(lsb_sandbox *sb, const char *source, size_t length, const char *chunkname);
/// With a function and `nargs` arguments on top (and 2 more free slots): reseeds
/// math.random with `seed` through the original math.randomseed, resets the
/// instruction counter and the abort flag, then calls the function in protected mode.
/// Returns the Lua status; leaves `nresults` results or the error object.
int lsb_call(lsb_sandbox *sb, int nargs, int nresults, uint64_t seed);
/// One of LSB_ABORT_*: which limit stopped the last call, if any.
int lsb_abort_kind(const lsb_sandbox *sb);
/// Bytes allocated by the state, vector copies included.
size_t lsb_memory_in_use(const lsb_sandbox *sb);

/// Pushes the sandbox's global table (needs 1 free slot).
void lsb_push_globals(struct lua_State *L);
/// Pushes a read-only vector over `data` (copied into memory owned by the vector when
/// `copy` is non-zero). Needs 3 free slots. Every vector pushed is invalidated by
/// lsb_invalidate_vectors. Returns 0 (pushing nothing) if a copy cannot be allocated.
int lsb_push_vector(struct lua_State *L, const float *data, int64_t count, int copy);
/// If slot `idx` holds a vector, returns its data and stores its length and validity.
/// Returns NULL (and *count = -1) when the value is not a vector.
const float *lsb_vector_data(struct lua_State *L, int idx, int64_t *count, int *valid);
/// Marks every vector pushed since the last invalidation unusable and frees the copies.
void lsb_invalidate_vectors(lsb_sandbox *sb);

/// Makes host function `id` callable as `<table>.<name>` (the global table `table` is
/// created, or replaced if it is not a table). Returns the Lua status.
int lsb_register(lsb_sandbox *sb, const char *table, const char *name, int id);

#endif
