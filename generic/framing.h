/*
 * framing.h --
 *
 *	Splitting a byte stream into messages: raw chunks, lines, or frames
 *	with a big-endian length prefix. Pure C with no Tcl or libuv calls,
 *	so that it can be tested and fuzzed on its own. One framer per
 *	connection; only the connection's I/O thread uses it.
 */

#ifndef COURIER_FRAMING_H
#define COURIER_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#ifndef MODULE_SCOPE
#define MODULE_SCOPE extern __attribute__((__visibility__("hidden")))
#endif

typedef enum {
    COURIER_FRAMING_RAW,	/* Every chunk read is a message. */
    COURIER_FRAMING_LINE,	/* Lines, without their end-of-line. */
    COURIER_FRAMING_LENGTH	/* A big-endian length, then that many bytes. */
} CourierFraming;

typedef enum {
    COURIER_EOL_AUTO,		/* LF or CR LF. */
    COURIER_EOL_LF,
    COURIER_EOL_CRLF,
    COURIER_EOL_CR
} CourierEol;

enum {
    COURIER_FRAME_OK = 0,
    COURIER_FRAME_TOO_BIG = 1	/* A message longer than maxMessage: the
				 * stream cannot be trusted any more. */
};

typedef void (CourierFrameProc)(void *clientData, const unsigned char *bytes,
	size_t length);

typedef struct CourierFramer {
    CourierFraming framing;
    CourierEol eol;
    int lengthBytes;		/* 1, 2, 4 or 8 (length framing). */
    uint64_t maxMessage;

    unsigned char header[8];	/* Length prefix read so far. */
    int headerLen;
    uint64_t need;		/* Body length once the header is read. */
    int eolLen;			/* Line framing: the end-of-line bytes of
				 * the line last passed on (1, or 2 for CR
				 * LF), valid while proc runs. */

    unsigned char *partial;	/* An incomplete message. */
    size_t partialLen;
    size_t partialCap;
    unsigned char *spare;	/* The last message completed in partial:
				 * valid until the next feed. */
    size_t spareCap;
} CourierFramer;

MODULE_SCOPE void	CourierFramerInit(CourierFramer *framerPtr,
			    CourierFraming framing, CourierEol eol,
			    int lengthBytes, uint64_t maxMessage);
MODULE_SCOPE int	CourierFramerFeed(CourierFramer *framerPtr,
			    const unsigned char *bytes, size_t length,
			    CourierFrameProc *proc, void *clientData);
MODULE_SCOPE int	CourierFramerReconfigure(CourierFramer *framerPtr,
			    CourierFraming framing, CourierEol eol,
			    int lengthBytes, uint64_t maxMessage,
			    CourierFrameProc *proc, void *clientData);
MODULE_SCOPE size_t	CourierFramerBuffered(const CourierFramer *framerPtr);
MODULE_SCOPE void	CourierFramerFree(CourierFramer *framerPtr);
MODULE_SCOPE size_t	CourierFrameHeader(int lengthBytes, uint64_t length,
			    unsigned char *out);

#endif /* COURIER_FRAMING_H */
