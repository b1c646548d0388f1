/*
 * walk.h: one walk over a Lua value (the layer under schema.c and json.c).
 *
 * The validator, the encoder and the free-form JSON writer share one
 * context: one stack of path segments, one problem list, one set of limits.
 * A segment is pushed per nesting level (a key still alive on the Lua
 * stack, or a list position) and the path is spelled out only when a
 * problem is reported, so a body with thousands of schemas formats no
 * index unless something in it is wrong. Problems are collected, never
 * raised: every one of them is reported and nothing half-built is left
 * unowned.
 */
#ifndef BULKSYNC_WALK_H
#define BULKSYNC_WALK_H

#include "buffer.h"

#define BS_PATH_MAX         256    /* longest path spelled in a problem */
#define BS_MAX_PROBLEMS     100    /* problems kept before the walk stops */

/* The work one body may cost. A table may be reused (shared) anywhere in a
 * body, so a few dozen small tables can stand for 2^40 values: the walk is
 * bounded by values visited and bytes written, not by the tables' size.
 * The defaults are well above any real sync (the 3,000-schema benchmark
 * body is about 81,000 values and 1.1 MB) and still stop a hostile one
 * within tens of milliseconds; a call can raise them up to the ceilings. */
#define BS_DEFAULT_MAX_VALUES   500000.0
#define BS_DEFAULT_MAX_BYTES    (64.0 * 1024 * 1024)
#define BS_CEILING_MAX_VALUES   1000000000.0
#define BS_CEILING_MAX_BYTES    (4.0 * 1024 * 1024 * 1024)
#define BS_CHECK_EVERY          256    /* values between two looks at the output size */
#define BS_CHECK_BYTES          4096   /* a string this long is looked at on its own */
#define BS_OPEN_SLOTS           128    /* power of two, twice BS_MAX_DEPTH */

/* Every problem carries one of these codes (core.PROBLEM_CODES):
 *   required   a required field is missing
 *   unknown    a field the object does not have (maybe another version's)
 *   type       a value of the wrong kind (string for a boolean, list for
 *              an object, a function anywhere)
 *   enum       a string that is not one of the field's values
 *   format     text of the right type in the wrong form: UUID, date-time,
 *              invalid UTF-8 in a string or a key
 *   null       null where the field is not nullable
 *   range      a number out of range: an integer past 2^63 (2^53 without
 *              integers), NaN, infinities
 *   strict     what strict mode refuses: an omitted field a full
 *              replacement would reset, an empty or bare-id selection
 *   structure  a table that cannot be JSON or the body: holes, mixed or
 *              non-string keys, cycles, nesting too deep
 *   limit      the walk passed max_values or max_bytes */
#define BS_PROBLEM_CODES(X) \
    X(REQUIRED,  "required")  \
    X(UNKNOWN,   "unknown")   \
    X(TYPE,      "type")      \
    X(ENUM,      "enum")      \
    X(FORMAT,    "format")    \
    X(NULL,      "null")      \
    X(RANGE,     "range")     \
    X(STRICT,    "strict")    \
    X(STRUCTURE, "structure") \
    X(LIMIT,     "limit")

#define BS_P_ENUM_(name, text) BS_P_##name,
typedef enum bs_problem { BS_PROBLEM_CODES(BS_P_ENUM_) BS_P_COUNT } bs_problem;
#undef BS_P_ENUM_

BS_INTERNAL extern const char *const bs_problem_names[BS_P_COUNT];

enum { BS_LIMIT_VALUES = 1, BS_LIMIT_BYTES = 2 };
/* Reasons to stop, kept in one mask so the hot loops test one word:
 * too deep (the rest would only repeat it), a limit passed, or
 * BS_MAX_PROBLEMS reported already. */
enum { BS_STOP_DEEP = 1, BS_STOP_LIMIT = 2, BS_STOP_FULL = 4 };

typedef struct bs_seg {
    const char  *key;      /* NULL: a list position */
    size_t       len;
    lua_Integer  index;
} bs_seg;

/* Segments are pushed at most once per nesting level and the depth limit
 * bounds those; the spare ones keep a bug from writing past the array. */
#define BS_SEG_MAX  (BS_MAX_DEPTH + 8)

typedef struct bs_walk {
    lua_State *L;
    bs_buf    *out;        /* JSON is appended here; NULL to only validate */
    int        problems;   /* absolute stack index: nil, or the problem list */
    int        nproblems;
    int        depth;
    int        strict;     /* also report every omitted optional field */
    int        stop;       /* why walking on would add nothing (BS_STOP_*), or 0 */
    int        halted;     /* 0, or which limit stopped the walk (BS_LIMIT_*) */
    int        limit_reported;
    /* Segments a limit report keeps, or -1 for all: a limit passed inside
     * a free-form value of a body is reported at the declared field that
     * holds it, where raising the limit is decided. */
    int        limit_nseg;
    /* Each value visited counts one; the output size is looked at when the
     * count reaches next_check and for every long string. */
    size_t     nvalues, next_check, max_values, max_bytes;
    int        nseg;
    /* The Lua stack has room up to this index (lua_checkstack asked for it
     * during this call, and room asked for is kept until the call returns):
     * a walk asks again only when a level would need more. */
    int        stack_room;
    bs_seg     seg[BS_SEG_MAX];
    /* The free-form tables being walked (at most BS_MAX_DEPTH), by address:
     * a hash set with linear probing, emptied in the order it was filled,
     * so finding a cycle costs one probe, not a look at every ancestor. */
    const void *open_tables[BS_OPEN_SLOTS];
} bs_walk;

/* Starts a walk: default limits, no problems. Pushes one slot (the problem
 * list, made by the first report) that must stay on the stack. */
BS_INTERNAL void bs_walk_init(bs_walk *w, lua_State *L, bs_buf *out);
/* Reads an optional { max_values =, max_bytes = } table at idx into w;
 * raises an argument error for anything else. */
BS_INTERNAL void bs_walk_limits(bs_walk *w, int idx);
/* The ceiling of each limit on this host (a 32-bit one gets less). */
BS_INTERNAL double bs_limit_ceiling(double want);

/* Appends { path = <spelled path>, problem = <text>, code = <code> }. */
BS_INTERNAL void bs_report(bs_walk *w, bs_problem code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Forgets the problems reported after the first `keep` (their part of the
 * walk is being redone). */
BS_INTERNAL void bs_report_rollback(bs_walk *w, int keep);

/* The slow half of the limit checks: true when the walk must stop (then
 * w->halted says why). extra: bytes about to be written. */
BS_INTERNAL int bs_limit_reached(bs_walk *w, size_t extra);
/* A limit stopped the walk: reported once, at the current path. */
BS_INTERNAL void bs_limit_stop(bs_walk *w);

/* Counts one value: true when the walk must stop. A counter increment and
 * a compare on the usual path. */
static inline int bs_count(bs_walk *w)
{
    return ++w->nvalues >= w->next_check && bs_limit_reached(w, 0);
}
/* Before writing a string of n bytes: true when the walk must stop. */
static inline int bs_too_big(bs_walk *w, size_t n)
{
    return n >= BS_CHECK_BYTES && w->out && bs_limit_reached(w, n);
}
/* Walking on would add nothing useful. */
static inline int bs_stopped(const bs_walk *w)
{
    return w->stop != 0;
}

static inline void bs_push_key(bs_walk *w, const char *key, size_t len)
{
    if (w->nseg < BS_SEG_MAX) {
        w->seg[w->nseg].key = key;
        w->seg[w->nseg].len = len;
    }
    w->nseg++;
}
static inline void bs_push_index(bs_walk *w, lua_Integer i)
{
    if (w->nseg < BS_SEG_MAX) {
        w->seg[w->nseg].key = NULL;
        w->seg[w->nseg].index = i;
    }
    w->nseg++;
}
/* Replaces the top segment's position: a list walk pushes once. */
static inline void bs_set_index(bs_walk *w, lua_Integer i)
{
    if (w->nseg - 1 < BS_SEG_MAX)
        w->seg[w->nseg - 1].index = i;
}
static inline void bs_pop(bs_walk *w) { w->nseg--; }

/* Spells the current path into buf (at most BS_PATH_MAX bytes with its
 * NUL): keys join with "." (none at the root), positions print 1-based:
 * a[2].b. Returns the length. */
BS_INTERNAL size_t bs_path_spell(const bs_walk *w, char *buf);

/* True when the table at idx carries the array marker. */
BS_INTERNAL int bs_is_array_marked(lua_State *L, int idx);

#endif /* BULKSYNC_WALK_H */
