/*
 * http.c: the libcurl client behind core.http.
 *
 *   local h = core.http{ headers = {...}, timeout = 60, connect_timeout = 10,
 *                        ca_file = nil, max_response_size = 16 MiB,
 *                        proxy = nil | URL | false }
 *   status, headers, body = h:perform(method, url, body_or_nil, extra_lines_or_nil)
 *   nil, kind, message, curl_code                       -- on failure
 *   results = h:perform_many(requests, concurrency, callback_or_nil)
 *   h:info()   h:close()
 *
 * One easy handle per client, reused for every request, so sequential
 * requests to one host share a kept-alive connection.
 *
 * perform_many runs a list of { method=, url=, body=, extra_lines= } through
 * a curl multi handle, at most `concurrency` at a time, and returns the
 * results in input order: { status=, headers=, body= } or { kind=, message=,
 * curl_code= }. With a callback, which gets those whole results, the list
 * returned holds only each outcome ({ status= } or the error fields): the
 * response bodies are not kept past their callback. The multi handle and a
 * pool of transfer slots (one easy handle each) live in the userdata and are
 * reused across calls; the multi handle's connection cache lets any slot
 * reuse any idle connection.
 * callback(index, result) runs (protected) as each transfer ends, always
 * between curl_multi_* calls, never from inside curl.
 *
 * Memory rule: every byte curl hands us goes into buffers owned by the
 * client userdata, whose __gc frees them; callbacks never call Lua, and the
 * Lua results are built only after curl_easy_perform has returned. So no Lua
 * error can longjmp through libcurl or leak a buffer.
 *
 * The work is split between a client (bs_conf: options, the static header
 * list) and a transfer (bs_xfer: easy handle, buffers, per-request header
 * list), so perform and perform_many share xfer_setup, xfer_prepare,
 * xfer_finish and xfer_push_result, which know nothing about how the
 * transfer is run.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"

/* ===================== CONFIGURATION ===================== */

/* The option limits are in http.h: core.LIMITS exports them. */
#define MAX_HEADER_BYTES         (256 * 1024)   /* all header lines of one response */
#define MIN_BUFFER_BYTES         (16 * 1024)
#define KEEP_BUFFER_BYTES        (1024 * 1024)  /* larger buffers are freed between requests */
#define MAX_INFO_FIELDS          8
#define MAX_CONCURRENCY          1000
#define POLL_MS                  1000           /* longest wait in curl_multi_poll */

#define USER_AGENT               "lua-bulksync/" BS_MODULE_VERSION
#define CLOSED_MESSAGE           "bulksync: client is closed"
#define CTYPE_JSON               "Content-Type: application/json"

/* ===================== BUFFERS =====================
 * A byte sink with a hard limit: the transfer is aborted (callback returns
 * a short count) rather than growing past it, so memory stays bounded
 * whatever the server sends. */

typedef struct sink {
    char  *data;
    size_t len, cap, limit;
    int    overflow;   /* the limit was reached */
    int    nomem;      /* realloc failed */
} sink;

static int sink_add(sink *s, const char *p, size_t n)
{
    if (n > s->limit - s->len) {
        s->overflow = 1;
        return 0;
    }
    if (n > s->cap - s->len) {
        size_t need = s->len + n;
        size_t cap = s->cap ? s->cap : (MIN_BUFFER_BYTES < s->limit ? MIN_BUFFER_BYTES : s->limit);
        char *d;
        while (cap < need)
            cap = cap > s->limit / 2 ? s->limit : cap * 2;
        d = (char *)realloc(s->data, cap);
        if (d == NULL) {
            s->nomem = 1;
            return 0;
        }
        s->data = d;
        s->cap = cap;
    }
    if (n > 0)
        memcpy(s->data + s->len, p, n);
    s->len += n;
    return 1;
}

/* Empties the sink for the next response; one huge response does not pin
 * its memory for the life of the client. */
static void sink_reset(sink *s)
{
    if (s->cap > KEEP_BUFFER_BYTES) {
        free(s->data);
        s->data = NULL;
        s->cap = 0;
    }
    s->len = 0;
    s->overflow = 0;
    s->nomem = 0;
}

static void sink_free(sink *s)
{
    free(s->data);
    s->data = NULL;
    s->len = s->cap = 0;
}

/* ===================== TRANSFER =====================*/

typedef struct bs_conf {           /* one per client, fixed at creation */
    struct curl_slist *headers;    /* static header lines + "Expect:" (owned) */
    /* The static lines plus one Content-Type line: [0] JSON, [1] empty.
     * Built the first time a request needs one (owned), so a request
     * without extra lines copies no list. */
    struct curl_slist *typed[2];
    char   *ca_file;               /* owned copy, or NULL */
    char   *proxy;                 /* owned copy, or NULL: libcurl reads the environment */
    int     proxy_off;             /* proxy = false: ignore the environment too */
    long    timeout_ms, connect_timeout_ms;
    size_t  max_response;
    int     has_content_type;      /* a static line names Content-Type */
} bs_conf;

typedef struct bs_xfer {           /* one per transfer in flight */
    CURL              *easy;
    bs_conf           *conf;             /* the client's (not owned) */
    struct curl_slist *headers;          /* the client's static list (not owned) */
    struct curl_slist *shared;           /* a list of conf->typed for one request, or NULL */
    /* What the handle holds from the last request, so an unchanged URL or
     * method is not copied into libcurl again (each set allocates). */
    const char        *custom;           /* CUSTOMREQUEST: a canonical method name, or NULL */
    size_t             url_len;          /* 0: unknown, set it */
    char               url[512];
    struct curl_slist *request_headers;  /* static + extra lines for one request (owned) */
    sink               body, head;
    /* Content-Length of the response being read: RFC 9112 section 6.3
     * says differing values make the framing unknowable; libcurl takes the
     * last one, so the header callback refuses the response instead. */
    curl_off_t         content_length;   /* -1: none seen yet */
    int                length_conflict;
    char               error[CURL_ERROR_SIZE];
} bs_xfer;

/* What one request asks for. body points into a Lua string: curl does not
 * copy POSTFIELDS, so the caller keeps that string alive (on the Lua stack,
 * or anchored somewhere for a multi transfer) until xfer_finish. */
typedef struct bs_request {
    const char *method;   /* canonical name from check_method */
    const char *url;
    const char *body;     /* NULL: no body */
    size_t      body_len;
    int         fields;   /* the request carries a (possibly empty) body */
} bs_request;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    bs_xfer *x = (bs_xfer *)ud;
    size_t len = size * n;
    return sink_add(&x->body, p, len) ? len : 0;
}

/* True when the header line at p names Content-Length and one of its
 * values (a list "5, 5" is allowed when they agree) differs from the one
 * seen before in this response. A value that is not a number is left to
 * libcurl, which refuses it. */
static int length_conflicts(bs_xfer *x, const char *p, size_t len)
{
    static const char name[] = "content-length:";
    size_t i, k = sizeof name - 1;
    if (len < k)
        return 0;
    for (i = 0; i < k; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return 0;
    }
    while (i < len) {
        curl_off_t v = 0;
        size_t digits = 0;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            if (++digits > 18)
                return 0;                   /* absurd: libcurl refuses it */
            v = v * 10 + (p[i++] - '0');
        }
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
            i++;
        if (digits == 0 || (i < len && p[i] != ','))
            return 0;
        if (x->content_length >= 0 && x->content_length != v)
            return 1;
        x->content_length = v;
        i++;                                /* past the comma */
    }
    return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    bs_xfer *x = (bs_xfer *)ud;
    size_t len = size * n;
    /* A status line starts a new response (after a 1xx, or a proxy's
     * CONNECT reply): only the final response's headers are kept. */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        x->head.len = 0;
        x->content_length = -1;
    } else if (length_conflicts(x, p, len)) {
        x->length_conflict = 1;
        return 0;                           /* aborts the transfer */
    }
    return sink_add(&x->head, p, len) ? len : 0;
}

#define SETOPT(x, opt, val) do { \
        CURLcode rc_ = curl_easy_setopt((x)->easy, (opt), (val)); \
        if (rc_ != CURLE_OK) return rc_; \
    } while (0)

/* Creates the easy handle with everything that never changes per request. */
static CURLcode xfer_setup(bs_xfer *x, const bs_conf *c)
{
    x->easy = curl_easy_init();
    if (x->easy == NULL)
        return CURLE_FAILED_INIT;
    x->conf = (bs_conf *)c;
    x->headers = c->headers;
    x->body.limit = c->max_response;
    x->head.limit = MAX_HEADER_BYTES;
    x->error[0] = '\0';

    SETOPT(x, CURLOPT_ERRORBUFFER, x->error);
    SETOPT(x, CURLOPT_NOSIGNAL, 1L);   /* no SIGALRM: we may share the process with anything */
    SETOPT(x, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    SETOPT(x, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    /* Verification is always on: the API key travels in these requests. */
    SETOPT(x, CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(x, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file)
        SETOPT(x, CURLOPT_CAINFO, c->ca_file);
    if (c->proxy)
        SETOPT(x, CURLOPT_PROXY, c->proxy);
    else if (c->proxy_off)   /* "" turns off *_proxy from the environment as well */
        SETOPT(x, CURLOPT_PROXY, "");
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(x, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SETOPT(x, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* A redirect would resend the Authorization header somewhere else. */
    SETOPT(x, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x074000
    SETOPT(x, CURLOPT_HTTP09_ALLOWED, 0L);
#endif
    SETOPT(x, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Refuses early when Content-Length already says too much. */
    SETOPT(x, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
    SETOPT(x, CURLOPT_USERAGENT, USER_AGENT);
    SETOPT(x, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(x, CURLOPT_WRITEDATA, (void *)x);
    SETOPT(x, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(x, CURLOPT_HEADERDATA, (void *)x);
    SETOPT(x, CURLOPT_HTTPHEADER, c->headers);
    return CURLE_OK;
}

/* Sets everything a request changes. Every method option is set each time,
 * so a GET after a PUT is a real GET. */
static CURLcode xfer_prepare(bs_xfer *x, const bs_request *r)
{
    int native = strcmp(r->method, "GET") == 0 || (r->fields && strcmp(r->method, "POST") == 0);
    const char *custom = native ? NULL : r->method;
    size_t url_len = strlen(r->url);

    x->error[0] = '\0';
    x->content_length = -1;
    x->length_conflict = 0;
    sink_reset(&x->body);
    sink_reset(&x->head);
    if (url_len == 0 || url_len != x->url_len || memcmp(x->url, r->url, url_len) != 0) {
        x->url_len = 0;
        SETOPT(x, CURLOPT_URL, r->url);
        if (url_len < sizeof x->url) {
            memcpy(x->url, r->url, url_len);
            x->url_len = url_len;
        }
    }
    SETOPT(x, CURLOPT_HTTPHEADER, x->request_headers ? x->request_headers
                                  : x->shared ? x->shared : x->headers);
    if (r->fields) {
        SETOPT(x, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        SETOPT(x, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    } else {
        SETOPT(x, CURLOPT_HTTPGET, 1L);
    }
    if (custom != x->custom) {
        x->custom = NULL;
        SETOPT(x, CURLOPT_CUSTOMREQUEST, custom);
        x->custom = custom;
    }
    return CURLE_OK;
}

/* After the transfer: the handle must not point at the caller's body or at
 * the per-request list, which is freed here. */
static void xfer_finish(bs_xfer *x)
{
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
    /* HTTPGET does not clear CUSTOMREQUEST (a copy curl owns): it stays
     * for the next request, which changes it only if it differs. */
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    x->shared = NULL;
    if (x->request_headers) {
        curl_slist_free_all(x->request_headers);
        x->request_headers = NULL;
    }
}

static void xfer_release(bs_xfer *x)
{
    if (x->easy) {
        curl_easy_cleanup(x->easy);   /* before the lists it points at */
        x->easy = NULL;
    }
    if (x->request_headers) {
        curl_slist_free_all(x->request_headers);
        x->request_headers = NULL;
    }
    sink_free(&x->body);
    sink_free(&x->head);
}

/* Appends a line to the per-request list; 0 when out of memory (the list
 * built so far stays owned by x). */
static int xfer_add_header(bs_xfer *x, const char *line)
{
    struct curl_slist *l = curl_slist_append(x->request_headers, line);
    if (l == NULL)
        return 0;
    x->request_headers = l;
    return 1;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* Pushes a table of the final response's headers: lower-cased names,
 * trimmed values, repeats joined with ", ". Lower-cases in place: the
 * buffer is scratch owned by the transfer. */
static void push_headers(lua_State *L, char *data, size_t len)
{
    size_t pos = 0;
    int lines = 0;
    const char *q = data, *end = data + len;

    /* Sized up front: filling an empty table rehashes at every power of 2. */
    while (q < end && (q = (const char *)memchr(q, '\n', (size_t)(end - q))) != NULL) {
        lines++;
        q++;
    }
    lua_createtable(L, 0, lines < 2 ? 0 : lines > 64 ? 64 : lines - 1);
    while (pos < len) {
        char *line = data + pos, *eol, *colon, *v;
        size_t n, nlen, vlen, i;

        eol = (char *)memchr(line, '\n', len - pos);
        n = eol ? (size_t)(eol - line) : len - pos;
        pos += n + 1;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (n == 0)
            break;                      /* end of the header block; trailers ignored */
        if (n >= 5 && memcmp(line, "HTTP/", 5) == 0)
            continue;                   /* the status line */
        if (is_space(line[0]))
            continue;                   /* obsolete line folding: not kept */
        colon = (char *)memchr(line, ':', n);
        if (colon == NULL)
            continue;
        nlen = (size_t)(colon - line);
        while (nlen > 0 && is_space(line[nlen - 1]))
            nlen--;
        if (nlen == 0)
            continue;
        for (i = 0; i < nlen; i++)
            if (line[i] >= 'A' && line[i] <= 'Z')
                line[i] = (char)(line[i] - 'A' + 'a');
        v = colon + 1;
        vlen = n - (size_t)(v - line);
        while (vlen > 0 && is_space(*v)) {
            v++;
            vlen--;
        }
        while (vlen > 0 && is_space(v[vlen - 1]))
            vlen--;

        lua_pushlstring(L, line, nlen);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlstring(L, v, vlen);
        } else {
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, v, vlen);
            lua_concat(L, 3);
        }
        lua_rawset(L, -3);
    }
}

/* Pushes status, headers, body or nil, kind, message, curl_code. None of
 * the messages can hold a request header value: they come from curl's
 * error buffer (which names hosts, ports, certificates) or from here. */
static int xfer_push_result(lua_State *L, bs_xfer *x, CURLcode rc)
{
    luaL_checkstack(L, 6, "bulksync.http: stack overflow");
    if (rc != CURLE_OK) {
        char msg[CURL_ERROR_SIZE + 64];
        lua_pushnil(L);
        lua_pushstring(L, rc == CURLE_OPERATION_TIMEDOUT ? "TimeoutError" : "TransportError");
        if (x->length_conflict)
            snprintf(msg, sizeof msg, "the response had conflicting Content-Length headers");
        else if (x->body.overflow || rc == CURLE_FILESIZE_EXCEEDED)
            snprintf(msg, sizeof msg, "response larger than max_response_size (%lu bytes)",
                     (unsigned long)x->body.limit);
        else if (x->head.overflow)
            snprintf(msg, sizeof msg, "response headers larger than %lu bytes",
                     (unsigned long)x->head.limit);
        else if (x->body.nomem || x->head.nomem)
            snprintf(msg, sizeof msg, "out of memory while reading the response");
        else if (x->error[0] != '\0')
            snprintf(msg, sizeof msg, "%s", x->error);
        else
            snprintf(msg, sizeof msg, "%s", curl_easy_strerror(rc));
        lua_pushstring(L, msg);
        lua_pushinteger(L, (lua_Integer)rc);
        return 4;
    } else {
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        lua_pushinteger(L, (lua_Integer)status);
        push_headers(L, x->head.data, x->head.len);
        lua_pushlstring(L, x->body.data ? x->body.data : "", x->body.len);
        return 3;
    }
}

/* ===================== CLIENT USERDATA =====================*/

/* One transfer slot of perform_many. Allocated on its own (never moved):
 * curl holds pointers to its error buffer and to the slot itself. */
typedef struct bs_slot {
    bs_xfer  x;
    int      index;      /* request being run (1-based), 0 when idle */
    int      attached;   /* the easy handle is in the multi handle */
    int      done;       /* finished; its result is not yet pushed */
    CURLcode rc;
} bs_slot;

typedef struct bs_http {
    bs_conf       conf;
    bs_xfer       xfer;
    CURLM        *multi;       /* created by the first perform_many */
    bs_slot     **slots;       /* nslots owned slots */
    int           nslots;
    unsigned long requests;
    int           open;
    /* Set while the results are pushed from the transfer's buffers: an
     * allocation there may run a finalizer, and one that calls h:close()
     * or h:perform() must not free or reuse those buffers under us. */
    int           busy;
    /* Set for the whole of perform_many, which runs Lua (the callback,
     * finalizers) while transfers are in flight: close waits for it. */
    int           in_many;
    int           close_pending;
    /* A request body encoded straight into the handle (core.encode_into),
     * so a single update makes no Lua string of its JSON; body_token names
     * its contents, so a stale reference is refused rather than sent. */
    bs_buf        body;
    lua_Integer   body_token;
} bs_http;

/* libcurl's global setup is per process and, before 7.84, not thread-safe:
 * done once when the first Lua state loads the module. This flag is the
 * only global in the module; it is never reset because curl_global_cleanup
 * is never called (the module cannot know which Lua state is the last). */
static int curl_ready = 0;

/* Takes every slot out of the multi handle and forgets its request: after
 * perform_many, and before one (an error raised while results were being
 * built may have left slots attached). A transfer cut off here just has
 * its connection closed; curl never reads the request body again. */
static void many_detach(bs_http *h)
{
    int i;
    for (i = 0; i < h->nslots; i++) {
        bs_slot *s = h->slots[i];
        if (s->attached) {
            curl_multi_remove_handle(h->multi, s->x.easy);
            s->attached = 0;
        }
        if (s->index)
            xfer_finish(&s->x);
        s->index = 0;
        s->done = 0;
    }
}

static void many_release(bs_http *h)
{
    int i;
    if (h->multi)
        many_detach(h);
    for (i = 0; i < h->nslots; i++) {
        xfer_release(&h->slots[i]->x);   /* easy handles before the multi handle */
        free(h->slots[i]);
    }
    free(h->slots);
    h->slots = NULL;
    h->nslots = 0;
    if (h->multi) {
        curl_multi_cleanup(h->multi);
        h->multi = NULL;
    }
}

static void http_release(bs_http *h)
{
    many_release(h);
    xfer_release(&h->xfer);
    if (h->conf.headers) {
        curl_slist_free_all(h->conf.headers);
        h->conf.headers = NULL;
    }
    curl_slist_free_all(h->conf.typed[0]);
    curl_slist_free_all(h->conf.typed[1]);
    h->conf.typed[0] = h->conf.typed[1] = NULL;
    free(h->conf.ca_file);
    h->conf.ca_file = NULL;
    free(h->conf.proxy);
    h->conf.proxy = NULL;
    bs_buf_free(&h->body);
    h->open = 0;
}

bs_buf *bs_http_body_begin(lua_State *L, int idx, lua_Integer *token)
{
    bs_http *h = (bs_http *)luaL_checkudata(L, idx, BS_HTTP_MT);
    if (!h->open || h->close_pending || h->busy) {
        lua_pushliteral(L, CLOSED_MESSAGE);
        lua_error(L);
    }
    h->busy = 1;
    *token = ++h->body_token;
    return &h->body;
}

void bs_http_body_end(lua_State *L, int idx, int ok)
{
    bs_http *h = (bs_http *)luaL_checkudata(L, idx, BS_HTTP_MT);
    h->busy = 0;
    if (!ok)
        bs_buf_reset(&h->body);
    if (h->close_pending && !h->in_many)
        http_release(h);
}

static bs_http *check_http(lua_State *L)
{
    bs_http *h = (bs_http *)luaL_checkudata(L, 1, BS_HTTP_MT);
    if (!h->open || h->close_pending) {
        lua_pushliteral(L, CLOSED_MESSAGE);
        lua_error(L);
    }
    return h;
}

/* Why a header line cannot be sent, or NULL. Looks at the bytes only to
 * judge them: the value itself never reaches a message. */
static const char *header_problem(const char *s, size_t n)
{
    size_t i, name = n;
    for (i = 0; i < n; i++) {
        if (s[i] == '\r' || s[i] == '\n')
            return "header value contains CR or LF";
        if (s[i] == '\0')
            return "header line contains a NUL byte";
        if ((s[i] == ':' || s[i] == ';') && name == n)
            name = i;
    }
    if (name == 0 || name == n)
        return "header line must look like 'Name: value'";
    for (i = 0; i < name; i++)
        if (is_space(s[i]))
            return "header line must look like 'Name: value'";
    return NULL;
}

/* The header line at t[i] if it is still a usable one. Checked again when
 * the list is built, because a finalizer running between the check and the
 * build could have changed the table. */
static const char *line_at(lua_State *L, int t, int i)
{
    const char *s = NULL;
    size_t len;
    lua_rawgeti(L, t, i);
    if (lua_type(L, -1) == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        if (header_problem(s, len))
            s = NULL;
    }
    lua_pop(L, 1);   /* the string stays alive: the table still holds it */
    return s;
}

/* Builds x's per-request list: the static lines, the extra lines of the
 * table at idx (nextra of them, re-checked) and ctype_line. Returns 0 if
 * out of memory or a line changed; the list is then freed. Never raises
 * (apart from the Lua API's own out-of-memory). */
static int xfer_build_headers(lua_State *L, bs_xfer *x, int idx, int nextra, const char *ctype_line)
{
    struct curl_slist *s;
    int ok = 1, i;

    if (x->request_headers) {
        curl_slist_free_all(x->request_headers);
        x->request_headers = NULL;
    }
    x->shared = NULL;
    if (nextra == 0 && ctype_line == NULL)
        return 1;
    if (nextra == 0) {
        /* The usual request: the static lines and a Content-Type, kept
         * on the client once built. */
        struct curl_slist **typed = &x->conf->typed[strcmp(ctype_line, CTYPE_JSON) == 0 ? 0 : 1];
        if (*typed == NULL) {
            struct curl_slist *l = NULL, *n;
            for (s = x->headers; s && ok; s = s->next) {
                n = curl_slist_append(l, s->data);
                ok = n != NULL;
                if (ok)
                    l = n;
            }
            n = ok ? curl_slist_append(l, ctype_line) : NULL;
            if (n == NULL) {
                curl_slist_free_all(l);
                return 0;
            }
            *typed = n;
        }
        x->shared = *typed;
        return 1;
    }
    for (s = x->headers; s && ok; s = s->next)
        ok = xfer_add_header(x, s->data);
    for (i = 1; i <= nextra && ok; i++) {
        const char *line = line_at(L, idx, i);
        ok = line != NULL && xfer_add_header(x, line);
    }
    if (ok && ctype_line)
        ok = xfer_add_header(x, ctype_line);
    if (!ok) {
        curl_slist_free_all(x->request_headers);
        x->request_headers = NULL;
    }
    return ok;
}

/* PUT/POST/PATCH always send a body (maybe empty, with Content-Length: 0);
 * DELETE only when given one. Without a Content-Type of the caller's, curl
 * would send a form type: say JSON, or nothing for an empty body. Sets
 * r->fields and returns the Content-Type line to add, or NULL. */
static const char *request_fields(bs_request *r, int has_ctype)
{
    r->fields = r->body != NULL || strcmp(r->method, "PUT") == 0 ||
                strcmp(r->method, "POST") == 0 || strcmp(r->method, "PATCH") == 0;
    if (r->fields && !has_ctype)
        return r->body ? CTYPE_JSON : "Content-Type:";
    return NULL;
}

static int is_content_type(const char *s, size_t n)
{
    static const char ct[] = "content-type";
    size_t i, k = sizeof ct - 1;
    if (n <= k || (s[k] != ':' && s[k] != ';'))
        return 0;
    for (i = 0; i < k; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != ct[i])
            return 0;
    }
    return 1;
}

/* Checks every entry of the header list at idx (a sequence of strings);
 * raises naming the position only. Returns the count; *ctype is set when a
 * line names Content-Type. */
static int check_header_list(lua_State *L, int idx, const char *what, int *ctype)
{
    int i, n = (int)bs_rawlen(L, idx);
    for (i = 1; i <= n; i++) {
        size_t len;
        const char *s, *why;
        lua_rawgeti(L, idx, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bulksync.http: %s[%d] must be a string", what, i);
        s = lua_tolstring(L, -1, &len);
        why = header_problem(s, len);
        if (why)
            luaL_error(L, "bulksync.http: %s (%s[%d])", why, what, i);
        if (is_content_type(s, len))
            *ctype = 1;
        lua_pop(L, 1);
    }
    return n;
}

static double opt_number(lua_State *L, int t, const char *name, double def, double lo, double hi,
                         const char *must)
{
    double v = def;
    lua_getfield(L, t, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "bulksync.http: option '%s' must be a number", name);
        v = (double)lua_tonumber(L, -1);
        if (!(v >= lo && v <= hi))   /* also refuses NaN */
            luaL_error(L, "bulksync.http: option '%s' must be %s", name, must);
    }
    lua_pop(L, 1);
    return v;
}

static long seconds_to_ms(double s)
{
    long ms = (long)(s * 1000.0);
    if ((double)ms < s * 1000.0)
        ms++;                        /* 0.0001 s is 1 ms, never 0 (= no limit) */
    return ms;
}

static int is_identifier(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (i >= 32 || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                         (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return i > 0;
}

static const char *const known_options[] = {
    "headers", "timeout", "connect_timeout", "ca_file", "max_response_size", "proxy", NULL
};

/* core.http(options) -> client. Everything is checked before anything is
 * allocated; then the userdata (with its __gc) exists before the first
 * malloc, so any later error frees what was built. */
int bs_http_new(lua_State *L)
{
    bs_http *h;
    double timeout, connect_timeout, max_response;
    const char *ca_file = NULL, *proxy = NULL;
    size_t ca_len = 0, proxy_len = 0;
    int proxy_off = 0;
    int nheaders = 0, ctype = 0, hidx = 0, i;
    CURLcode rc;

    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_checkstack(L, 8, "bulksync.http: stack overflow");

    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *const *k;
        const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int ok = 0;
        for (k = known_options; name && *k && !ok; k++)
            ok = strcmp(*k, name) == 0;
        if (!ok)   /* a key is echoed only if it looks like a name, not like a secret */
            luaL_error(L, "bulksync.http: unknown option %s",
                       name && is_identifier(name) ? name : "(not shown)");
        lua_pop(L, 1);
    }

    timeout = opt_number(L, 1, "timeout", BS_HTTP_TIMEOUT_DEFAULT, BS_HTTP_SECONDS_MIN,
                         BS_HTTP_SECONDS_MAX, "a positive number of seconds");
    connect_timeout = opt_number(L, 1, "connect_timeout", BS_HTTP_CONNECT_TIMEOUT_DEFAULT,
                                 BS_HTTP_SECONDS_MIN, BS_HTTP_SECONDS_MAX,
                                 "a positive number of seconds");
    max_response = opt_number(L, 1, "max_response_size", BS_HTTP_MAX_RESPONSE_DEFAULT,
                              BS_HTTP_MAX_RESPONSE_MIN, BS_HTTP_MAX_RESPONSE_MAX,
                              "a positive whole number of bytes");
    if ((double)(unsigned long)max_response != max_response)
        luaL_error(L, "bulksync.http: option 'max_response_size' must be a positive whole number of bytes");

    lua_getfield(L, 1, "ca_file");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bulksync.http: option 'ca_file' must be a path string");
        ca_file = lua_tolstring(L, -1, &ca_len);
        if (strlen(ca_file) != ca_len || ca_len == 0)
            luaL_error(L, "bulksync.http: option 'ca_file' must be a path string");
    }                                   /* stays at index 2, keeping ca_file alive */

    lua_getfield(L, 1, "headers");      /* index 3 */
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TTABLE)
            luaL_error(L, "bulksync.http: option 'headers' must be a list of header lines");
        hidx = 3;
        nheaders = check_header_list(L, hidx, "headers", &ctype);
    }

    lua_getfield(L, 1, "proxy");        /* index 4, keeping proxy alive */
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        proxy_off = 1;
    } else if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bulksync.http: option 'proxy' must be a URL string or false");
        proxy = lua_tolstring(L, -1, &proxy_len);
        if (strlen(proxy) != proxy_len || proxy_len == 0)
            luaL_error(L, "bulksync.http: option 'proxy' must be a URL string or false");
    }

    h = (bs_http *)bs_newudata(L, sizeof *h);
    memset(h, 0, sizeof *h);
    luaL_getmetatable(L, BS_HTTP_MT);
    lua_setmetatable(L, -2);            /* from here on __gc owns what h holds */

    if (!curl_ready)
        luaL_error(L, "bulksync.http: libcurl could not be initialised");
    h->conf.timeout_ms = seconds_to_ms(timeout);
    h->conf.connect_timeout_ms = seconds_to_ms(connect_timeout);
    h->conf.max_response = (size_t)max_response;
    h->conf.has_content_type = ctype;
    if (ca_file) {
        h->conf.ca_file = (char *)malloc(ca_len + 1);
        if (h->conf.ca_file == NULL)
            luaL_error(L, "bulksync.http: out of memory");
        memcpy(h->conf.ca_file, ca_file, ca_len + 1);
    }
    h->conf.proxy_off = proxy_off;
    if (proxy) {
        h->conf.proxy = (char *)malloc(proxy_len + 1);
        if (h->conf.proxy == NULL)
            luaL_error(L, "bulksync.http: out of memory");
        memcpy(h->conf.proxy, proxy, proxy_len + 1);
    }
    for (i = 1; i <= nheaders + 1; i++) {
        struct curl_slist *l;
        const char *line = "Expect:";   /* never wait for 100-continue */
        if (i <= nheaders && (line = line_at(L, hidx, i)) == NULL)
            luaL_error(L, "bulksync.http: the headers list changed while in use");
        l = curl_slist_append(h->conf.headers, line);
        if (l == NULL)
            luaL_error(L, "bulksync.http: out of memory");
        h->conf.headers = l;
    }

    rc = xfer_setup(&h->xfer, &h->conf);
    if (rc != CURLE_OK)
        luaL_error(L, "bulksync.http: cannot set up libcurl: %s", curl_easy_strerror(rc));
    h->open = 1;
    return 1;
}

/* The canonical (static) name of a supported method, or NULL. */
static const char *method_name(const char *m)
{
    static const char *const methods[] = { "GET", "PUT", "POST", "DELETE", "PATCH", NULL };
    int i;
    for (i = 0; m && methods[i]; i++)
        if (strcmp(m, methods[i]) == 0)
            return methods[i];
    return NULL;
}

static const char *check_method(lua_State *L, int idx)
{
    const char *m = method_name(luaL_checkstring(L, idx));
    if (m == NULL)
        luaL_argerror(L, idx, "method must be GET, PUT, POST, DELETE or PATCH");
    return m;
}

/* h:perform(method, url, body_or_nil, extra_lines_or_nil) */
static int http_perform(lua_State *L)
{
    bs_http *h = check_http(L);
    bs_xfer *x = &h->xfer;
    bs_request r;
    int nextra = 0, ctype = h->conf.has_content_type, nret;
    const char *ctype_line;
    size_t url_len;
    CURLcode rc;

    /* All checks (which may raise) come first. */
    if (h->busy)   /* only a finalizer can get here while results are pushed */
        return luaL_error(L, "bulksync: client is busy");
    r.method = check_method(L, 2);
    r.url = luaL_checklstring(L, 3, &url_len);
    if (strlen(r.url) != url_len)
        luaL_argerror(L, 3, "URL contains a NUL byte");
    r.body = NULL;
    r.body_len = 0;
    if (lua_type(L, 4) == LUA_TNUMBER) {
        /* What core.encode_into put in the handle, if it is still there. */
        if (lua_tointeger(L, 4) != h->body_token || h->body.len == 0)
            luaL_argerror(L, 4, "the encoded body was replaced or never written");
        r.body = h->body.data;
        r.body_len = h->body.len;
    } else if (!lua_isnoneornil(L, 4)) {
        r.body = luaL_checklstring(L, 4, &r.body_len);
    }
    if (r.body && strcmp(r.method, "GET") == 0)
        luaL_argerror(L, 4, "a GET request has no body");
    if (!lua_isnoneornil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        nextra = check_header_list(L, 5, "extra headers", &ctype);
    }
    lua_settop(L, 5);                   /* keeps url and body alive during the transfer */
    luaL_checkstack(L, 8, "bulksync.http: stack overflow");   /* what the results need */
    ctype_line = request_fields(&r, ctype);

    /* No raising from here until the transfer is finished. */
    if (!xfer_build_headers(L, x, 5, nextra, ctype_line))
        return luaL_error(L, "bulksync.http: out of memory or extra headers changed");

    rc = xfer_prepare(x, &r);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(x->easy);
    xfer_finish(x);
    h->requests++;
    /* An error raised while pushing (out of memory) leaves busy set: the
     * client then refuses further use, and __gc still frees it. */
    h->busy = 1;
    nret = xfer_push_result(L, x, rc);
    h->busy = 0;
    if (h->close_pending && !h->in_many)
        http_release(h);
    return nret;
}

/* ===================== MULTI =====================*/

/* Reads the request table at t without raising (but for out of memory):
 * pushes its url, body and extra_lines (3 values, kept by the caller so the
 * strings stay alive) and fills r, *nextra and *ctype. Returns NULL, or
 * what is wrong; *bad_line is then the offending extra line, or 0. */
static const char *read_request(lua_State *L, int t, bs_request *r, int *nextra, int *ctype,
                                int *bad_line)
{
    size_t len;
    int i, n, top;

    *bad_line = 0;
    *nextra = 0;
    lua_pushliteral(L, "method");
    lua_rawget(L, t);
    r->method = method_name(lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL);
    lua_pop(L, 1);                      /* a canonical name is static */
    lua_pushliteral(L, "url");
    lua_rawget(L, t);
    lua_pushliteral(L, "body");
    lua_rawget(L, t);
    lua_pushliteral(L, "extra_lines");
    lua_rawget(L, t);
    top = lua_gettop(L);
    if (r->method == NULL)
        return "method must be GET, PUT, POST, DELETE or PATCH";
    if (lua_type(L, top - 2) != LUA_TSTRING)
        return "url must be a string";
    r->url = lua_tolstring(L, top - 2, &len);
    if (strlen(r->url) != len)
        return "url contains a NUL byte";
    r->body = NULL;
    r->body_len = 0;
    if (!lua_isnil(L, top - 1)) {
        if (lua_type(L, top - 1) != LUA_TSTRING)
            return "body must be a string or nil";
        r->body = lua_tolstring(L, top - 1, &r->body_len);
        if (strcmp(r->method, "GET") == 0)
            return "a GET request has no body";
    }
    if (lua_isnil(L, top))
        return NULL;
    if (lua_type(L, top) != LUA_TTABLE)
        return "extra_lines must be a list of header lines";
    n = (int)bs_rawlen(L, top);
    for (i = 1; i <= n; i++) {
        const char *line, *why = "must be a string";
        lua_rawgeti(L, top, i);
        if (lua_type(L, -1) == LUA_TSTRING) {
            line = lua_tolstring(L, -1, &len);
            why = header_problem(line, len);
            if (why == NULL && is_content_type(line, len))
                *ctype = 1;
        }
        lua_pop(L, 1);
        if (why) {
            *bad_line = i;
            return why;
        }
    }
    *nextra = n;
    return NULL;
}

/* Marks s as finished with rc before it reached curl; msg (if any) is
 * what the result will say. */
static void slot_fail(bs_slot *s, int index, CURLcode rc, const char *msg)
{
    sink_reset(&s->x.body);
    sink_reset(&s->x.head);
    s->x.length_conflict = 0;
    s->x.error[0] = '\0';
    if (msg)
        snprintf(s->x.error, sizeof s->x.error, "%s", msg);
    s->index = index;
    s->rc = rc;
    s->done = 1;
}

/* Starts request `index` (from the list at `list`) on slot s. Everything
 * that can fail becomes the slot's result; only the Lua API's own
 * out-of-memory can raise, and then many_detach cleans up later. The body
 * string is anchored in anchor[index] because curl does not copy it. */
static void many_start(lua_State *L, bs_http *h, bs_slot *s, int list, int anchor, int index)
{
    bs_request r;
    int nextra, ctype = h->conf.has_content_type, bad_line, top = lua_gettop(L);
    const char *why = "is not a table";
    CURLcode rc;
    CURLMcode mc;

    lua_rawgeti(L, list, index);
    if (lua_type(L, -1) == LUA_TTABLE)
        why = read_request(L, top + 1, &r, &nextra, &ctype, &bad_line);
    if (why) {   /* it passed the check at the start: a callback changed it */
        slot_fail(s, index, CURLE_BAD_FUNCTION_ARGUMENT,
                  "bulksync.http: the request changed while perform_many ran");
        lua_settop(L, top);
        return;
    }
    lua_pushvalue(L, top + 3);
    lua_rawseti(L, anchor, index);
    if (!xfer_build_headers(L, &s->x, top + 4, nextra, request_fields(&r, ctype))) {
        slot_fail(s, index, CURLE_OUT_OF_MEMORY, "bulksync.http: out of memory or extra headers changed");
        lua_settop(L, top);
        return;
    }
    rc = xfer_prepare(&s->x, &r);
    lua_settop(L, top);
    s->index = index;
    if (rc != CURLE_OK) {
        xfer_finish(&s->x);
        slot_fail(s, index, rc, NULL);
        return;
    }
    mc = curl_multi_add_handle(h->multi, s->x.easy);
    if (mc != CURLM_OK) {
        xfer_finish(&s->x);
        slot_fail(s, index, CURLE_FAILED_INIT, curl_multi_strerror(mc));
        return;
    }
    s->attached = 1;
}

/* Pushes a result table made from what xfer_push_result pushes. */
static void push_result_table(lua_State *L, bs_xfer *x, CURLcode rc)
{
    int top = lua_gettop(L);
    int n = xfer_push_result(L, x, rc);
    lua_createtable(L, 0, 3);
    if (n == 3) {
        lua_pushvalue(L, top + 1);
        lua_setfield(L, -2, "status");
        lua_pushvalue(L, top + 2);
        lua_setfield(L, -2, "headers");
        lua_pushvalue(L, top + 3);
        lua_setfield(L, -2, "body");
    } else {
        lua_pushvalue(L, top + 2);
        lua_setfield(L, -2, "kind");
        lua_pushvalue(L, top + 3);
        lua_setfield(L, -2, "message");
        lua_pushvalue(L, top + 4);
        lua_setfield(L, -2, "curl_code");
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
}

/* Pushes the outcome of the result table at idx: the same table without
 * its body and headers ({ status = } or { kind =, message =, curl_code = }). */
static void push_outcome(lua_State *L, int idx)
{
    static const char *const keep[] = { "status", "kind", "message", "curl_code", NULL };
    const char *const *k;
    lua_createtable(L, 0, 3);
    for (k = keep; *k; k++) {
        lua_getfield(L, idx, *k);
        lua_setfield(L, -2, *k);
    }
}

/* Creates the multi handle and enough slots for n transfers; 0 if out of
 * memory or curl refuses. Everything made is owned by h at once. */
static int many_reserve(bs_http *h, int n)
{
    if (h->multi == NULL && (h->multi = curl_multi_init()) == NULL)
        return 0;
    if (n > h->nslots) {
        bs_slot **list = (bs_slot **)realloc(h->slots, (size_t)n * sizeof *list);
        if (list == NULL)
            return 0;
        h->slots = list;
        while (h->nslots < n) {
            bs_slot *s = (bs_slot *)calloc(1, sizeof *s);
            if (s == NULL)
                return 0;
            if (xfer_setup(&s->x, &h->conf) != CURLE_OK ||
                curl_easy_setopt(s->x.easy, CURLOPT_PRIVATE, (void *)s) != CURLE_OK) {
                xfer_release(&s->x);   /* a half-configured slot is never kept */
                free(s);
                return 0;
            }
            h->slots[h->nslots++] = s;
        }
    }
    /* At most n connections to the API host, and n kept for reuse. */
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)n);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)n);
    return 1;
}

/* Moves every transfer curl reports as done out of the multi handle. */
static int many_collect(bs_http *h)
{
    CURLMsg *m;
    int left, n = 0;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        char *p = NULL;
        bs_slot *s;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);
        s = (bs_slot *)(void *)p;
        if (s == NULL || !s->attached)
            continue;
        curl_multi_remove_handle(h->multi, easy);   /* m is invalid from here */
        s->attached = 0;
        xfer_finish(&s->x);
        s->rc = rc;
        s->done = 1;
        n++;
    }
    return n;
}

/* Ends every transfer still in flight with rc/msg (the multi handle
 * failed as a whole). */
static void many_fail_all(bs_http *h, CURLcode rc, const char *msg)
{
    int i;
    for (i = 0; i < h->nslots; i++) {
        bs_slot *s = h->slots[i];
        if (s->attached) {
            curl_multi_remove_handle(h->multi, s->x.easy);
            s->attached = 0;
            xfer_finish(&s->x);
            slot_fail(s, s->index, rc, msg);
        }
    }
}

/* The loop of perform_many, run under lua_pcall by http_perform_many:
 * whatever raises in here (the callback, out of memory while a result is
 * built) unwinds only to there, which then takes the transfers out of
 * curl. curl runs only inside the curl_multi_* calls and Lua only between
 * them, so no error ever crosses libcurl.
 * Arguments: the client, the requests, the concurrency, the callback. */
static int many_run(lua_State *L)
{
    enum { CLIENT = 1, LIST, CONC, CALLBACK, RESULTS, ANCHOR };
    bs_http *h = (bs_http *)lua_touserdata(L, CLIENT);
    int n = (int)bs_rawlen(L, LIST), conc = (int)lua_tointeger(L, CONC);
    int i, next = 1, running = 0;

    lua_settop(L, CALLBACK);
    lua_createtable(L, n, 0);           /* RESULTS */
    lua_createtable(L, n, 0);           /* ANCHOR: the bodies curl points at */
    for (;;) {
        int finished = 0, still = 0;
        CURLMcode mc;

        for (i = 0; i < h->nslots && next <= n && running < conc; i++) {
            bs_slot *s = h->slots[i];
            if (s->index)
                continue;
            many_start(L, h, s, LIST, ANCHOR, next++);
            if (s->attached)
                running++;
        }

        for (i = 0; i < h->nslots; i++) {
            bs_slot *s = h->slots[i];
            int index = s->index;
            if (!s->done)
                continue;
            h->requests++;
            push_result_table(L, &s->x, s->rc);
            s->done = 0;
            s->index = 0;
            lua_pushnil(L);             /* curl is done with the request body */
            lua_rawseti(L, ANCHOR, index);
            finished++;
            if (lua_isnil(L, CALLBACK)) {
                lua_rawseti(L, RESULTS, index);
                continue;
            }
            /* The callback gets the whole result and the results list only
             * its outcome: nothing here keeps a response body alive once
             * the callback is done with it, so a large batch holds at most
             * what the callback keeps. */
            push_outcome(L, lua_gettop(L));
            lua_rawseti(L, RESULTS, index);
            lua_pushvalue(L, CALLBACK);
            lua_pushinteger(L, (lua_Integer)index);
            lua_pushvalue(L, -3);
            lua_call(L, 2, 0);
            lua_pop(L, 1);
        }
        if (finished)
            continue;                   /* start the next ones before waiting */
        if (running == 0) {
            if (next > n)
                break;
            continue;
        }

        mc = curl_multi_perform(h->multi, &still);
        if (mc != CURLM_OK) {
            many_fail_all(h, CURLE_FAILED_INIT, curl_multi_strerror(mc));
            running = 0;
            continue;
        }
        finished = many_collect(h);
        running -= finished;
        if (finished == 0 && running > 0) {
#if LIBCURL_VERSION_NUM >= 0x074200
            mc = curl_multi_poll(h->multi, NULL, 0, POLL_MS, NULL);
#else
            mc = curl_multi_wait(h->multi, NULL, 0, POLL_MS, NULL);
#endif
            if (mc != CURLM_OK) {
                many_fail_all(h, CURLE_FAILED_INIT, curl_multi_strerror(mc));
                running = 0;
            }
        }
    }
    lua_settop(L, RESULTS);
    return 1;
}

/* h:perform_many(requests, concurrency, callback_or_nil) -> results */
static int http_perform_many(lua_State *L)
{
    enum { LIST = 2, CONC = 3, CALLBACK = 4 };
    bs_http *h = check_http(L);
    lua_Integer conc;
    int n, i, status;

    /* All checks (which may raise) come first. */
    luaL_checktype(L, LIST, LUA_TTABLE);
    conc = luaL_checkinteger(L, CONC);
    if (conc < 1 || conc > MAX_CONCURRENCY)
        luaL_argerror(L, CONC, "concurrency must be a whole number from 1 to 1000");
    if (!lua_isnoneornil(L, CALLBACK))
        luaL_checktype(L, CALLBACK, LUA_TFUNCTION);
    if (h->in_many)   /* from the callback or a finalizer */
        return luaL_error(L, "bulksync: client is busy");
    lua_settop(L, CALLBACK);
    luaL_checkstack(L, 24, "bulksync.http: stack overflow");
    n = (int)bs_rawlen(L, LIST);
    for (i = 1; i <= n; i++) {
        bs_request r;
        int nextra, ctype = 0, bad_line = 0;
        const char *why = "must be a table";
        lua_rawgeti(L, LIST, i);
        if (lua_type(L, -1) == LUA_TTABLE)
            why = read_request(L, lua_gettop(L), &r, &nextra, &ctype, &bad_line);
        if (why && bad_line)
            luaL_error(L, "bulksync.http: %s (requests[%d].extra_lines[%d])", why, i, bad_line);
        if (why)
            luaL_error(L, "bulksync.http: requests[%d]: %s", i, why);
        lua_settop(L, CALLBACK);
    }
    if (n == 0) {
        lua_newtable(L);
        return 1;
    }
    if (conc > n)
        conc = n;
    if (!many_reserve(h, (int)conc))
        return luaL_error(L, "bulksync.http: cannot set up libcurl's multi interface (out of memory?)");

    lua_pushcfunction(L, many_run);     /* may allocate (5.1): before in_many is set */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, LIST);
    lua_pushinteger(L, conc);
    lua_pushvalue(L, CALLBACK);
    many_detach(h);
    h->in_many = 1;
    status = lua_pcall(L, 4, 1, 0);
    /* Clean whatever the outcome: a transfer still in flight (after an
     * error) is cut off and its connection closed. */
    many_detach(h);
    h->in_many = 0;
    if (h->close_pending)
        http_release(h);
    if (status != 0)
        return lua_error(L);            /* the callback's error, as it was raised */
    return 1;
}

/* h:info() -> what curl measured for the last transfer. connects is the
 * number of new connections it needed: 0 when a kept-alive one was reused. */
static int http_info(lua_State *L)
{
    bs_http *h = check_http(L);
    CURL *e = h->xfer.easy;
    long connects = 0, status = 0, port = 0;
    double total = 0, connect = 0, start = 0;
    char *ip = NULL;

    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &total);
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME, &connect);
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME, &start);
    curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &port);

    lua_createtable(L, 0, MAX_INFO_FIELDS);
    lua_pushinteger(L, (lua_Integer)connects);
    lua_setfield(L, -2, "connects");
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, -2, "status");
    lua_pushnumber(L, (lua_Number)total);
    lua_setfield(L, -2, "total_time");
    lua_pushnumber(L, (lua_Number)connect);
    lua_setfield(L, -2, "connect_time");
    lua_pushnumber(L, (lua_Number)start);
    lua_setfield(L, -2, "starttransfer_time");
    lua_pushstring(L, ip ? ip : "");
    lua_setfield(L, -2, "primary_ip");
    lua_pushinteger(L, (lua_Integer)port);
    lua_setfield(L, -2, "primary_port");
    lua_pushnumber(L, (lua_Number)h->requests);
    lua_setfield(L, -2, "requests");
    return 1;
}

/* close and __close: release everything once; later calls do nothing.
 * While results are being pushed, the release waits for perform to end. */
static int http_close(lua_State *L)
{
    bs_http *h = (bs_http *)luaL_checkudata(L, 1, BS_HTTP_MT);
    if (h->busy || h->in_many)
        h->close_pending = 1;
    else
        http_release(h);
    return 0;
}

/* __gc: an unreachable client cannot be inside perform, so it is always
 * safe to release (even if an earlier error left busy set). */
static int http_gc(lua_State *L)
{
    http_release((bs_http *)luaL_checkudata(L, 1, BS_HTTP_MT));
    return 0;
}

static int http_tostring(lua_State *L)
{
    bs_http *h = (bs_http *)luaL_checkudata(L, 1, BS_HTTP_MT);
    if (h->open && !h->close_pending)
        lua_pushfstring(L, "%s (%p)", BS_HTTP_MT, (void *)h);
    else
        lua_pushfstring(L, "%s (closed)", BS_HTTP_MT);
    return 1;
}

/* core.getdate(text) -> seconds since the epoch, or nil. Retry-After may be
 * an HTTP date in any of RFC 9110's three forms (IMF-fixdate, RFC 850,
 * asctime); libcurl's parser reads all of them. */
#define MAX_DATE_BYTES 128

int bs_http_getdate(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    time_t t;
    if (len == 0 || len > MAX_DATE_BYTES || strlen(s) != len) {
        lua_pushnil(L);
        return 1;
    }
    t = curl_getdate(s, NULL);
    if (t == (time_t)-1) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)t);
    return 1;
}

/* ===================== INITIALISATION =====================*/

static const luaL_Reg http_methods[] = {
    { "perform", http_perform },
    { "perform_many", http_perform_many },
    { "info",    http_info },
    { "close",   http_close },
    { NULL, NULL }
};

static const luaL_Reg http_meta[] = {
    { "__gc",       http_gc },
    { "__close",    http_close },   /* Lua 5.4 to-be-closed; unused before */
    { "__tostring", http_tostring },
    { NULL, NULL }
};

void bs_http_register(lua_State *L)
{
    if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
        curl_ready = 1;

    luaL_newmetatable(L, BS_HTTP_MT);
    bs_setfuncs(L, http_meta, 0);
    lua_pushliteral(L, BS_HTTP_MT);
    lua_setfield(L, -2, "__name");      /* 5.3+ sets it too; older ones do not */
    lua_newtable(L);
    bs_setfuncs(L, http_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
