/*
 * json.h: JSON writing (on a walk) and reading.
 */
#ifndef BULKSYNC_JSON_H
#define BULKSYNC_JSON_H

#include "walk.h"

/* Writes s as a JSON string to w->out (or only checks it when w has no
 * output); reports at the current path and writes nothing if s is not
 * valid UTF-8. Returns 1 when s was fine. */
BS_INTERNAL int bs_json_string(bs_walk *w, const char *s, size_t len);
/* Writes the integer or float at idx: integers exactly, floats so they
 * round-trip; reports NaN and infinities. */
BS_INTERNAL int bs_json_number(bs_walk *w, int idx);
/* Writes any free-form value (destination_configuration, filter values):
 * problems inside it are reported under the current path. Returns 1 when
 * nothing was reported. */
BS_INTERNAL int bs_json_value(bs_walk *w, int idx);
/* Parses s and pushes the value: null -> bulksync.null, arrays carry the
 * array marker, integers are Lua integers where the Lua has them. Returns 1;
 * on bad input pushes nothing, writes a message with the byte offset into
 * err and returns 0. Raises only on out-of-memory. */
BS_INTERNAL int bs_json_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen);

#endif /* BULKSYNC_JSON_H */
