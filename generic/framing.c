/*
 * framing.c --
 *
 *	Splits a byte stream into messages (see framing.h). The framer never
 *	holds more than maxMessage (+1 for a line's CR) bytes of an
 *	incomplete message, so a peer cannot make it allocate without bound;
 *	a message that would be longer is reported as COURIER_FRAME_TOO_BIG.
 *
 *	Messages found whole in the bytes fed are passed on in place; a
 *	message that spans feeds is assembled in "partial". When it is
 *	complete, partial and spare trade places, so the message handed on
 *	stays valid until the next feed while new leftovers go to the other
 *	buffer.
 */

#include "framing.h"
#include <stdlib.h>
#include <string.h>
#include <assert.h>

/* Buffers larger than this are not kept around between messages. */
#define FRAMER_KEEP_BYTES 4096

static void	Append(CourierFramer *f, const unsigned char *bytes,
		    size_t length);
static int	FeedLength(CourierFramer *f, const unsigned char *bytes,
		    size_t length, CourierFrameProc *proc, void *clientData);
static int	FeedLine(CourierFramer *f, const unsigned char *bytes,
		    size_t length, CourierFrameProc *proc, void *clientData);
static void	HandOverPartial(CourierFramer *f, size_t length,
		    CourierFrameProc *proc, void *clientData);
static int	OverMax(uint64_t n, uint64_t max, uint64_t slack);

void
CourierFramerInit(
    CourierFramer *f,
    CourierFraming framing,
    CourierEol eol,
    int lengthBytes,
    uint64_t maxMessage)
{
    assert(lengthBytes == 1 || lengthBytes == 2 || lengthBytes == 4
	    || lengthBytes == 8);
    memset(f, 0, sizeof(*f));
    f->framing = framing;
    f->eol = eol;
    f->lengthBytes = lengthBytes;
    f->maxMessage = maxMessage;
}

void
CourierFramerFree(
    CourierFramer *f)
{
    free(f->partial);
    free(f->spare);
    f->partial = f->spare = NULL;
    f->partialLen = f->partialCap = f->spareCap = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierFramerReconfigure --
 *
 *	New settings for a framer in use. The bytes it holds (a length
 *	prefix read so far, an incomplete message) are read again with the
 *	new settings, exactly as if they had just arrived: proc is called
 *	for each message they complete, and a refusal is reported as a feed
 *	would report it.
 *
 * Results:
 *	COURIER_FRAME_OK or COURIER_FRAME_TOO_BIG, as CourierFramerFeed.
 *
 * Side effects:
 *	The messages passed to proc point into a buffer the framer keeps as
 *	its spare: valid until the next feed, as for CourierFramerFeed.
 *
 *----------------------------------------------------------------------
 */

int
CourierFramerReconfigure(
    CourierFramer *f,
    CourierFraming framing,
    CourierEol eol,
    int lengthBytes,
    uint64_t maxMessage,
    CourierFrameProc *proc,
    void *clientData)
{
    CourierFramer old = *f;
    size_t held = old.partialLen + (size_t) old.headerLen;
    unsigned char *bytes;
    int rc;

    CourierFramerInit(f, framing, eol, lengthBytes, maxMessage);
    if (held == 0) {
	CourierFramerFree(&old);
	return COURIER_FRAME_OK;
    }
    bytes = malloc(held);
    if (bytes == NULL) {
	abort();
    }
    memcpy(bytes, old.header, (size_t) old.headerLen);
    if (old.partialLen > 0) {
	memcpy(bytes + old.headerLen, old.partial, old.partialLen);
    }
    CourierFramerFree(&old);
    rc = CourierFramerFeed(f, bytes, held, proc, clientData);

    /*
     * A fresh framer fed once passes complete messages on in place (only
     * a message that spans feeds is assembled in partial): they point
     * into bytes, which becomes the spare, so they stay valid until the
     * next feed as the contract says.
     */

    assert(f->spare == NULL);
    f->spare = bytes;
    f->spareCap = held;
    return rc;
}

/* Bytes held for an incomplete message (and its header). */
size_t
CourierFramerBuffered(
    const CourierFramer *f)
{
    return f->partialLen + (size_t) f->headerLen;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierFramerFeed --
 *
 *	Feeds bytes read from the stream; calls proc once per complete
 *	message, in order. The bytes passed to proc are valid until the next
 *	call of CourierFramerFeed.
 *
 * Results:
 *	COURIER_FRAME_OK, or COURIER_FRAME_TOO_BIG when a message is longer
 *	than the maximum (messages before it have been passed on; the rest
 *	of the stream must be dropped).
 *
 *----------------------------------------------------------------------
 */

int
CourierFramerFeed(
    CourierFramer *f,
    const unsigned char *bytes,
    size_t length,
    CourierFrameProc *proc,
    void *clientData)
{
    /* The message handed on from spare last time is no longer needed. */
    if (f->spareCap > FRAMER_KEEP_BYTES) {
	free(f->spare);
	f->spare = NULL;
	f->spareCap = 0;
    }
    switch (f->framing) {
    case COURIER_FRAMING_RAW:
	if (length > 0) {
	    proc(clientData, bytes, length);
	}
	return COURIER_FRAME_OK;
    case COURIER_FRAMING_LINE:
	return FeedLine(f, bytes, length, proc, clientData);
    case COURIER_FRAMING_LENGTH:
	return FeedLength(f, bytes, length, proc, clientData);
    }
    return COURIER_FRAME_OK;
}

/*
 * Append --
 *	Adds bytes to the partial message, growing its buffer (by doubling).
 *	Callers have checked the result stays within the maximum.
 */

static void
Append(
    CourierFramer *f,
    const unsigned char *bytes,
    size_t length)
{
    if (length == 0) {
	return;
    }
    if (f->partialLen + length > f->partialCap) {
	size_t cap = f->partialCap ? f->partialCap : 256;

	while (cap < f->partialLen + length) {
	    cap *= 2;
	}
	f->partial = realloc(f->partial, cap);
	if (f->partial == NULL) {
	    abort();
	}
	f->partialCap = cap;
    }
    memcpy(f->partial + f->partialLen, bytes, length);
    f->partialLen += length;
}

/*
 * OverMax --
 *	Is n more than max + slack? Without computing max + slack, which
 *	wraps for a maximum near 2^64 (a line then looked too long at once).
 */

static int
OverMax(
    uint64_t n,
    uint64_t max,
    uint64_t slack)
{
    return n > max && n - max > slack;
}

/*
 * HandOverPartial --
 *	The partial message is complete (its first length bytes): pass it on,
 *	then swap buffers so that it stays valid until the next feed.
 */

static void
HandOverPartial(
    CourierFramer *f,
    size_t length,
    CourierFrameProc *proc,
    void *clientData)
{
    unsigned char *done = f->partial;
    size_t doneCap = f->partialCap;

    proc(clientData, done, length);
    f->partial = f->spare;
    f->partialCap = f->spareCap;
    f->partialLen = 0;
    f->spare = done;
    f->spareCap = doneCap;
}

/*
 *----------------------------------------------------------------------
 *
 * FeedLine --
 *
 *	Line framing. The end-of-line is LF (auto: an LF, with a CR before
 *	it dropped; crlf: only CR LF ends a line; cr: CR). A line longer
 *	than the maximum, not counting its end-of-line, is TOO_BIG.
 *
 *----------------------------------------------------------------------
 */

static int
FeedLine(
    CourierFramer *f,
    const unsigned char *bytes,
    size_t length,
    CourierFrameProc *proc,
    void *clientData)
{
    const unsigned char terminator = (f->eol == COURIER_EOL_CR) ? '\r' : '\n';
    size_t pos = 0, scan = 0;

    while (pos < length) {
	const unsigned char *hit = memchr(bytes + scan, terminator,
		length - scan);
	size_t end, lineLen;
	int dropCR = 0;

	if (hit == NULL) {
	    /* No end in sight: keep the rest, within the limit. */
	    size_t rest = length - pos;

	    if (OverMax(f->partialLen + rest, f->maxMessage, 1)) {
		return COURIER_FRAME_TOO_BIG;
	    }
	    Append(f, bytes + pos, rest);
	    return COURIER_FRAME_OK;
	}
	end = (size_t) (hit - bytes);
	lineLen = f->partialLen + (end - pos);

	if (f->eol == COURIER_EOL_AUTO || f->eol == COURIER_EOL_CRLF) {
	    /* Is the byte before the LF a CR (it may sit in partial)? */
	    unsigned char before = 0;

	    if (end > pos) {
		before = bytes[end - 1];
	    } else if (f->partialLen > 0) {
		before = f->partial[f->partialLen - 1];
	    }
	    if (before == '\r') {
		dropCR = 1;
	    } else if (f->eol == COURIER_EOL_CRLF) {
		/* A bare LF is part of the line: look further. */
		scan = end + 1;
		if (OverMax(lineLen + 1, f->maxMessage, 1)) {
		    return COURIER_FRAME_TOO_BIG;
		}
		continue;
	    }
	}
	if (lineLen - dropCR > f->maxMessage) {
	    return COURIER_FRAME_TOO_BIG;
	}
	f->eolLen = 1 + dropCR;
	if (f->partialLen == 0) {
	    proc(clientData, bytes + pos, lineLen - dropCR);
	} else {
	    Append(f, bytes + pos, end - pos);
	    HandOverPartial(f, lineLen - dropCR, proc, clientData);
	}
	pos = scan = end + 1;
    }
    return COURIER_FRAME_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * FeedLength --
 *
 *	Length framing: lengthBytes of big-endian length, then the body. A
 *	length above the maximum is TOO_BIG as soon as the header is read,
 *	before any of the body is buffered.
 *
 *----------------------------------------------------------------------
 */

static int
FeedLength(
    CourierFramer *f,
    const unsigned char *bytes,
    size_t length,
    CourierFrameProc *proc,
    void *clientData)
{
    size_t pos = 0;

    for (;;) {
	if (f->headerLen < f->lengthBytes) {
	    int i;

	    while (f->headerLen < f->lengthBytes && pos < length) {
		f->header[f->headerLen++] = bytes[pos++];
	    }
	    if (f->headerLen < f->lengthBytes) {
		return COURIER_FRAME_OK;
	    }
	    f->need = 0;
	    for (i = 0; i < f->lengthBytes; i++) {
		f->need = (f->need << 8) | f->header[i];
	    }
	    if (f->need > f->maxMessage) {
		return COURIER_FRAME_TOO_BIG;
	    }
	}

	/* Header complete: the body is f->need bytes. */
	if (f->partialLen == 0 && length - pos >= f->need) {
	    proc(clientData, bytes + pos, (size_t) f->need);
	    pos += (size_t) f->need;
	} else {
	    size_t want = (size_t) f->need - f->partialLen;
	    size_t take = (length - pos < want) ? length - pos : want;

	    Append(f, bytes + pos, take);
	    pos += take;
	    if (f->partialLen < f->need) {
		return COURIER_FRAME_OK;
	    }
	    HandOverPartial(f, (size_t) f->need, proc, clientData);
	}
	f->headerLen = 0;
	f->need = 0;
	if (pos == length) {
	    return COURIER_FRAME_OK;
	}
    }
}

/*
 * CourierFrameHeader --
 *	Writes the length prefix for a message of the given length into out
 *	(lengthBytes bytes, big-endian). Returns lengthBytes.
 */

size_t
CourierFrameHeader(
    int lengthBytes,
    uint64_t length,
    unsigned char *out)
{
    int i;

    for (i = lengthBytes - 1; i >= 0; i--) {
	out[i] = (unsigned char) (length & 0xff);
	length >>= 8;
    }
    return (size_t) lengthBytes;
}
