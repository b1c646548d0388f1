/*
 * floor.c: the least work a libcurl client can do for one update, the floor
 * row 3 compares lua-bulksync against. One easy handle (so one kept-alive
 * connection), the same headers, the same pre-encoded body, N PUTs in a loop;
 * each response is collected into a buffer and nothing more is done with it.
 *
 *   floor URL BODY_FILE N [HEADER...]   prints "<seconds for N> <failures>"
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

typedef struct sink {
    char  *data;
    size_t len, cap;
} sink;

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    sink *s = (sink *)ud;
    size_t add = size * n;
    if (s->len + add > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        char *d;
        while (cap < s->len + add)
            cap *= 2;
        d = (char *)realloc(s->data, cap);
        if (d == NULL)
            return 0;
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, add);
    s->len += add;
    return add;
}

static char *read_file(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (*len = ftell(f)) < 0) {
        if (f)
            fclose(f);
        return NULL;
    }
    rewind(f);
    buf = (char *)malloc((size_t)*len + 1);
    if (buf && fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct curl_slist *headers = NULL;
    sink s = { NULL, 0, 0 };
    CURL *h;
    char *body;
    long len, n, i, failures = 0, status = 0;
    double t0, t1;
    int a;

    if (argc < 4) {
        fprintf(stderr, "usage: %s URL BODY_FILE N [HEADER...]\n", argv[0]);
        return 2;
    }
    body = read_file(argv[2], &len);
    n = atol(argv[3]);
    if (body == NULL || n <= 0) {
        fprintf(stderr, "floor: cannot read %s or bad N\n", argv[2]);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    h = curl_easy_init();
    for (a = 4; a < argc; a++)
        headers = curl_slist_append(headers, argv[a]);
    /* A body over 1 KiB would otherwise wait for 100 Continue. */
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, argv[1]);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);

    /* The first request opens the connection; it is not timed. */
    curl_easy_perform(h);
    t0 = now();
    for (i = 0; i < n; i++) {
        s.len = 0;
        if (curl_easy_perform(h) != CURLE_OK) {
            failures++;
            continue;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
            failures++;
    }
    t1 = now();
    printf("%.6f %ld\n", t1 - t0, failures);

    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    free(s.data);
    free(body);
    return failures ? 1 : 0;
}
