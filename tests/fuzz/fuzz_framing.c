/*
 * fuzz_framing.c --
 *
 *	libFuzzer target for generic/framing.c, the code that reads bytes
 *	from the network. The first four input bytes choose the framing,
 *	end of line, prefix width and maximum message size; the rest is the
 *	stream, fed in chunks whose sizes the input also chooses. Checked:
 *	- no access out of bounds and no undefined behaviour (ASan, UBSan);
 *	- the framer never holds more than the maximum (+ a CR, + a header);
 *	- the messages do not depend on how the stream was chunked: the
 *	  same stream fed in one piece gives the same messages and the same
 *	  verdict.
 *
 *	Build and run: make fuzz (clang with -fsanitize=fuzzer).
 */

#include "framing.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct Record {
    unsigned char *bytes;	/* Every message, each preceded by its length. */
    size_t length, cap;
    size_t count;
} Record;

static void
Collect(
    void *clientData,
    const unsigned char *bytes,
    size_t length)
{
    Record *r = clientData;
    size_t need = r->length + sizeof(size_t) + length;

    if (need > r->cap) {
	r->cap = need * 2;
	r->bytes = realloc(r->bytes, r->cap);
	if (r->bytes == NULL) {
	    abort();
	}
    }
    memcpy(r->bytes + r->length, &length, sizeof(size_t));
    if (length > 0) {
	memcpy(r->bytes + r->length + sizeof(size_t), bytes, length);
    }
    r->length = need;
    r->count++;
}

/* Feeds data in chunks chosen by sizes (cycled); returns the verdict. */
static int
Run(
    CourierFramer *f,
    const unsigned char *data,
    size_t length,
    const unsigned char *sizes,
    size_t nSizes,
    Record *r)
{
    size_t pos = 0, k = 0;
    int rc = COURIER_FRAME_OK;

    while (pos < length && rc == COURIER_FRAME_OK) {
	size_t chunk = nSizes ? (size_t) sizes[k++ % nSizes] + 1 : length;

	if (chunk > length - pos) {
	    chunk = length - pos;
	}
	rc = CourierFramerFeed(f, data + pos, chunk, Collect, r);
	if (CourierFramerBuffered(f) > f->maxMessage + 1 + 8) {
	    abort();			/* Held more than the limit. */
	}
	pos += chunk;
    }
    return rc;
}

int
LLVMFuzzerTestOneInput(
    const uint8_t *data,
    size_t size)
{
    static const int widths[] = {1, 2, 4, 8};
    CourierFramer chunked, whole;
    Record a = {NULL, 0, 0, 0}, b = {NULL, 0, 0, 0};
    CourierFraming framing;
    CourierEol eol;
    uint64_t maxMessage;
    size_t nSizes;
    int rcA, rcB;

    if (size < 5) {
	return 0;
    }
    framing = (CourierFraming) (data[0] % 3);
    eol = (CourierEol) (data[1] % 4);
    maxMessage = (uint64_t) data[2] * 37 + 1;
    nSizes = (data[3] % 8);
    data += 4;
    size -= 4;
    if (nSizes > size) {
	nSizes = size;
    }

    CourierFramerInit(&chunked, framing, eol, widths[data[0] % 4], maxMessage);
    CourierFramerInit(&whole, framing, eol, widths[data[0] % 4], maxMessage);
    rcA = Run(&chunked, data + nSizes, size - nSizes, data, nSizes, &a);
    rcB = Run(&whole, data + nSizes, size - nSizes, NULL, 0, &b);

    /*
     * Raw framing passes chunks on as they come: only the bytes must
     * agree. Otherwise the messages must be the same, unless a message
     * was too big (then the stream stops where each run noticed it).
     */

    if (framing == COURIER_FRAMING_RAW) {
	size_t i, pa = 0, pb = 0;
	unsigned char *sa = malloc(a.length + 1), *sb = malloc(b.length + 1);
	size_t la = 0, lb = 0;

	for (i = 0; i < a.count; i++) {
	    size_t n;

	    memcpy(&n, a.bytes + pa, sizeof(size_t));
	    memcpy(sa + la, a.bytes + pa + sizeof(size_t), n);
	    la += n;
	    pa += sizeof(size_t) + n;
	}
	for (i = 0; i < b.count; i++) {
	    size_t n;

	    memcpy(&n, b.bytes + pb, sizeof(size_t));
	    memcpy(sb + lb, b.bytes + pb + sizeof(size_t), n);
	    lb += n;
	    pb += sizeof(size_t) + n;
	}
	if (la != lb || (la > 0 && memcmp(sa, sb, la) != 0)) {
	    abort();
	}
	free(sa);
	free(sb);
    } else if (rcA == COURIER_FRAME_OK && rcB == COURIER_FRAME_OK) {
	if (a.length != b.length || a.count != b.count
		|| (a.length > 0 && memcmp(a.bytes, b.bytes, a.length) != 0)) {
	    abort();
	}
    } else if (rcA != rcB) {
	abort();			/* One run saw a bad message, one not. */
    }
    CourierFramerFree(&chunked);
    CourierFramerFree(&whole);
    free(a.bytes);
    free(b.bytes);
    return 0;
}
