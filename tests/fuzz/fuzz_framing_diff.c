/*
 * fuzz_framing_diff.c --
 *
 *	Differential libFuzzer target for generic/framing.c: the framer is
 *	driven by a script of operations (feed a chunk of the stream, or
 *	change the framing, end of line, prefix width and maximum between
 *	chunks, as CourierConnIoConfigure does with CourierFramerReconfigure)
 *	and compared after every operation with a reference framer written
 *	here from the documented rules alone, as simply as possible: it
 *	keeps every byte not yet delivered and cuts messages off its front.
 *	Checked:
 *	- the same messages, byte for byte, in the same order, and the same
 *	  verdict at the same operation; after a refusal, the messages
 *	  delivered before it are compared too;
 *	- every byte of the stream is delivered exactly once, in order, or
 *	  is held (the reference's buffer is exactly the bytes not yet
 *	  delivered, less end-of-lines and prefixes), or the stream was
 *	  refused;
 *	- the framer never holds more than the maximum (+ a CR, + a prefix);
 *	- maxima up to 2^64-1 and prefixes up to 8 bytes, so that the 32-
 *	  and 64-bit limits (and Courier's own, 2^31-1-64) are reached;
 *	- no access out of bounds, no undefined behaviour (ASan, UBSan with
 *	  -fno-sanitize-recover: the first report ends the run).
 *
 *	The input: each operation starts with a byte. Its low two bits: 0 or
 *	1, feed the next (byte + 1) stream bytes (the next two bytes give a
 *	longer chunk when bit 2 is set), or for 1 with bit 3 set, a length
 *	prefix of the maximum - 1, + 0 or + 1; 2, reconfigure from the next
 *	bytes (framing, end of line, width, maximum class, and for some
 *	classes 8 bytes of maximum); 3, feed a run of one byte value
 *	repeated (long lines and frames without long inputs). The stream
 *	bytes are taken from the input after the operation's own bytes.
 *
 *	Build and run: make fuzz (clang with -fsanitize=fuzzer).
 */

#include "framing.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes fed per input at most: runs make long inputs cheap to write. */
#define FED_MAX (256 * 1024)

/* Messages, each preceded by its length: compared with memcmp. */
typedef struct Record {
    unsigned char *bytes;
    size_t length, cap;
    size_t count;
    size_t payload;		/* Bytes of the messages alone. */
} Record;

static void
Grow(
    Record *r,
    size_t need)
{
    if (need > r->cap) {
	r->cap = need * 2;
	r->bytes = realloc(r->bytes, r->cap);
	if (r->bytes == NULL) {
	    abort();
	}
    }
}

static void
Collect(
    void *clientData,
    const unsigned char *bytes,
    size_t length)
{
    Record *r = clientData;
    size_t need = r->length + sizeof(size_t) + length;

    Grow(r, need);
    memcpy(r->bytes + r->length, &length, sizeof(size_t));
    if (length > 0) {
	memcpy(r->bytes + r->length + sizeof(size_t), bytes, length);
    }
    r->length = need;
    r->count++;
    r->payload += length;
}

/*
 *----------------------------------------------------------------------
 *
 * The reference framer: every byte not yet delivered sits in buf; after
 * each feed or change, whole messages are cut off its front. Rules
 * (framing.h, courier.n):
 *   raw:    every chunk fed is a message (nothing is held);
 *   line:   lf ends a line at LF, cr at CR, auto at LF with one CR
 *	     before it dropped, crlf only at CR LF (a bare LF is data);
 *	     a line longer than max (without its end) is refused, and so
 *	     is an unfinished line of more than max + 1 bytes (the + 1
 *	     leaves room for a CR that may turn out to be half a CR LF);
 *   length: width bytes of big-endian length, refused at once when over
 *	     max, then that many bytes.
 *
 *----------------------------------------------------------------------
 */

typedef struct Ref {
    CourierFraming framing;
    CourierEol eol;
    int width;
    uint64_t max;
    unsigned char *buf;
    size_t len, cap;
    size_t cut;			/* End-of-line and prefix bytes cut off. */
    size_t scanned;		/* Line framing: the first bytes held are
				 * known to end no line (not scanned again:
				 * long lines fed in small chunks stay
				 * linear). */
} Ref;

/* Cuts whole messages off buf + *offPtr; the caller compacts once. */
static int
RefCutFrom(
    Ref *r,
    size_t *offPtr,
    Record *out)
{
    for (;;) {
	const unsigned char *p;
	size_t len = r->len - *offPtr;
	size_t i, end = 0, lineLen = 0;
	int found = 0;

	if (len == 0) {
	    return COURIER_FRAME_OK;
	}
	p = r->buf + *offPtr;
	switch (r->framing) {
	case COURIER_FRAMING_RAW:
	    Collect(out, p, len);
	    *offPtr += len;
	    return COURIER_FRAME_OK;
	case COURIER_FRAMING_LINE:
	    /* The first terminator byte from where scanning stopped
	     * (memchr: a byte loop here would be most of the run time). */
	    for (i = r->scanned; i < len && !found; i++) {
		const unsigned char *hit = memchr(p + i,
			r->eol == COURIER_EOL_CR ? '\r' : '\n', len - i);

		if (hit == NULL) {
		    break;
		}
		i = (size_t) (hit - p);
		switch (r->eol) {
		case COURIER_EOL_LF:
		case COURIER_EOL_CR:
		    found = 1; end = i + 1; lineLen = i;
		    break;
		case COURIER_EOL_AUTO:
		    found = 1; end = i + 1;
		    lineLen = (i > 0 && p[i - 1] == '\r') ? i - 1 : i;
		    break;
		case COURIER_EOL_CRLF:
		    if (i > 0 && p[i - 1] == '\r') {
			found = 1; end = i + 1; lineLen = i - 1;
		    }
		    break;
		}
	    }
	    if (!found) {
		/* Unfinished: held, up to max + 1 bytes. */
		r->scanned = len;
		if (r->max < UINT64_MAX && (uint64_t) len > r->max + 1) {
		    return COURIER_FRAME_TOO_BIG;
		}
		return COURIER_FRAME_OK;
	    }
	    if ((uint64_t) lineLen > r->max) {
		return COURIER_FRAME_TOO_BIG;
	    }
	    Collect(out, p, lineLen);
	    r->cut += end - lineLen;
	    r->scanned = 0;
	    break;
	case COURIER_FRAMING_LENGTH: {
	    uint64_t need = 0;

	    if (len < (size_t) r->width) {
		return COURIER_FRAME_OK;
	    }
	    for (i = 0; i < (size_t) r->width; i++) {
		need = (need << 8) | p[i];
	    }
	    if (need > r->max) {
		return COURIER_FRAME_TOO_BIG;
	    }
	    if ((uint64_t) (len - (size_t) r->width) < need) {
		return COURIER_FRAME_OK;
	    }
	    Collect(out, p + r->width, (size_t) need);
	    end = (size_t) r->width + (size_t) need;
	    r->cut += (size_t) r->width;
	    break;
	}
	}
	*offPtr += end;
    }
}

static int
RefCut(
    Ref *r,
    Record *out)
{
    size_t off = 0;
    int rc = RefCutFrom(r, &off, out);

    if (off > 0) {
	memmove(r->buf, r->buf + off, r->len - off);
	r->len -= off;
    }
    return rc;
}

static int
RefFeed(
    Ref *r,
    const unsigned char *bytes,
    size_t length,
    Record *out)
{
    if (r->framing == COURIER_FRAMING_RAW) {
	/* A chunk is a message: what was held before is one of its own. */
	int rc = RefCut(r, out);

	if (length > 0) {
	    Collect(out, bytes, length);
	}
	return rc;
    }
    if (r->len + length > r->cap) {
	r->cap = (r->len + length) * 2;
	r->buf = realloc(r->buf, r->cap);
	if (r->buf == NULL) {
	    abort();
	}
    }
    if (length > 0) {
	memcpy(r->buf + r->len, bytes, length);
	r->len += length;
    }
    return RefCut(r, out);
}

/*
 *----------------------------------------------------------------------
 *
 * Reading the input.
 *
 *----------------------------------------------------------------------
 */

typedef struct Input {
    const uint8_t *data;
    size_t size, pos;
} Input;

static unsigned
Byte(
    Input *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

/* A maximum: small ones, and every edge of the 32- and 64-bit ranges. */
static uint64_t
PickMax(
    Input *in)
{
    static const uint64_t edges[] = {
	0, 1, 2, 255, 256, 65535, 65536,
	2147483583,			/* COURIER_MAX_MESSAGE */
	2147483584, 2147483647, 2147483648u,
	4294967294u, 4294967295u, 4294967296ull, 4294967297ull,
	9223372036854775807ull, 9223372036854775808ull,
	18446744073709551614ull, 18446744073709551615ull
    };
    unsigned c = Byte(in);

    if (c < 128) {
	return (uint64_t) c * 37 + 1;		/* Small: reached often. */
    } else if (c < 192) {
	return edges[c % (sizeof(edges) / sizeof(edges[0]))];
    } else {
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++) {
	    v = (v << 8) | Byte(in);
	}
	return v;
    }
}

static void
Configure(
    Input *in,
    CourierFraming *framingPtr,
    CourierEol *eolPtr,
    int *widthPtr,
    uint64_t *maxPtr)
{
    static const int widths[] = {1, 2, 4, 8};
    unsigned b = Byte(in);

    *framingPtr = (CourierFraming) (b % 3);
    *eolPtr = (CourierEol) ((b / 3) % 4);
    *widthPtr = widths[(b / 12) % 4];
    *maxPtr = PickMax(in);
}

/* Does the framer hold more than its maximum allows? */
static int
OverHeld(
    const CourierFramer *f)
{
    size_t held = CourierFramerBuffered(f);

    return held > 9 && (uint64_t) (held - 9) > f->maxMessage;
}

int
LLVMFuzzerTestOneInput(
    const uint8_t *data,
    size_t size)
{
    Input in = {data, size, 0};
    CourierFramer f;
    Ref ref;
    Record a = {NULL, 0, 0, 0, 0}, b = {NULL, 0, 0, 0, 0};
    CourierFraming framing;
    CourierEol eol;
    int width, ops = 0;
    uint64_t max;
    int rcA = COURIER_FRAME_OK, rcB = COURIER_FRAME_OK;
    unsigned char *run = NULL;
    size_t fed = 0, checked = 0;

    Configure(&in, &framing, &eol, &width, &max);
    CourierFramerInit(&f, framing, eol, width, max);
    memset(&ref, 0, sizeof(ref));
    ref.framing = framing;
    ref.eol = eol;
    ref.width = width;
    ref.max = max;

    while (in.pos < in.size && ops++ < 4096 && fed < FED_MAX) {
	unsigned op = Byte(&in);

	if ((op & 3) == 1 && (op & 8)) {
	    /*
	     * A length prefix at the edge of the maximum: max - 1, max or
	     * max + 1 (wrapping, and cut to the width), so that frames at
	     * and past the 32- and 64-bit limits come often.
	     */

	    unsigned char prefix[8];
	    uint64_t n = max + (uint64_t) ((op >> 4) % 3) - 1;

	    CourierFrameHeader(width, n, prefix);
	    rcA = CourierFramerFeed(&f, prefix, (size_t) width, Collect, &a);
	    rcB = RefFeed(&ref, prefix, (size_t) width, &b);
	    fed += (size_t) width;
	} else if ((op & 3) == 2) {
	    Configure(&in, &framing, &eol, &width, &max);
	    rcA = CourierFramerReconfigure(&f, framing, eol, width, max,
		    Collect, &a);
	    ref.framing = framing;
	    ref.eol = eol;
	    ref.width = width;
	    ref.max = max;
	    ref.scanned = 0;
	    rcB = RefCut(&ref, &b);
	} else {
	    const unsigned char *chunk;
	    size_t n = Byte(&in) + 1;

	    if (op & 4) {
		n = n * 256 + Byte(&in);
	    }
	    if ((op & 3) == 3) {
		/* A run of one byte value: long messages from short input
		 * (at most 16 KiB, so that runs stay fast). */
		unsigned char value = (unsigned char) Byte(&in);

		n = ((n & 0xff) + 1) * 64;
		run = realloc(run, n);
		if (run == NULL) {
		    abort();
		}
		memset(run, value, n);
		chunk = run;
	    } else {
		if (n > in.size - in.pos) {
		    n = in.size - in.pos;
		}
		chunk = in.data + in.pos;
		in.pos += n;
	    }
	    rcA = CourierFramerFeed(&f, chunk, n, Collect, &a);
	    rcB = RefFeed(&ref, chunk, n, &b);
	    fed += n;
	}

	/* The same verdict, the same messages, so far (both records only
	 * grow: what was compared before is not compared again). */
	if (rcA != rcB || a.count != b.count || a.length != b.length
		|| (a.length > checked && memcmp(a.bytes + checked,
			b.bytes + checked, a.length - checked) != 0)) {
	    abort();
	}
	checked = a.length;
	if (rcA != COURIER_FRAME_OK) {
	    break;			/* The stream is refused: it ends. */
	}
	if (OverHeld(&f)) {
	    abort();			/* Held more than the limit. */
	}

	/*
	 * Held bytes: the reference's buffer is what the framer holds
	 * (after a change, the framer may have re-read its bytes but
	 * holds the same unfinished message).
	 */

	if (CourierFramerBuffered(&f) != ref.len) {
	    abort();
	}
    }

    /*
     * Exactly once: unless refused, what was fed is what was delivered,
     * plus what is held, plus the end-of-lines and prefixes cut off (the
     * reference cuts from the front, so in order).
     */

    if (rcB == COURIER_FRAME_OK && b.payload + ref.len + ref.cut != fed) {
	abort();
    }

    CourierFramerFree(&f);
    free(ref.buf);
    free(run);
    free(a.bytes);
    free(b.bytes);
    return 0;
}
