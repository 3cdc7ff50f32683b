/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the Prometheus endpoint's HTTP request parser: any bytes a client sends.
 * Checks the parser's promises besides memory safety: the answer is one of the documented
 * statuses, a complete head lies within the input, and an incomplete one never exceeds the limit. */

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "prometheus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HttpRequest req;
        int r;

        if (size > 2 * HTTP_REQUEST_MAX)
                return 0;
        r = http_request_parse((const char *) data, size, &req);
        switch (r) {
        case 0:
                assert(size < HTTP_REQUEST_MAX);
                break;
        case 200:
                assert(req.head_length > 0 && req.head_length <= size && req.head_length <= HTTP_REQUEST_MAX);
                assert(req.method == HTTP_METHOD_GET || req.method == HTTP_METHOD_HEAD);
                assert(req.target == HTTP_TARGET_METRICS || req.target == HTTP_TARGET_ROOT);
                break;
        case 400: case 404: case 405: case 414: case 431: case 505:
                break;
        default:
                abort();
        }
        /* The server reads in pieces: a request cut short must wait or fail, never read past the cut. */
        if (size > 1) {
                int p = http_request_parse((const char *) data, size / 2, &req);
                assert(p == 0 || p >= 200);
        }
        return 0;
}
