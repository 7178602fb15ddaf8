/*
 * message.h --
 *
 *	Messages: the plain C data that crosses from a producer thread into
 *	a Tcl thread through the inbox. A producer usually makes messages in
 *	batches (every frame found in one socket read, say): a batch is one
 *	malloc'ed block carved into messages, and the block is freed when
 *	the last of them is. One allocation per batch instead of one per
 *	message, and messages that sit next to each other in memory.
 *
 *	Any thread may allocate or free a message at any time (plain malloc,
 *	so even while Tcl is being finalized).
 */

#ifndef COURIER_MESSAGE_H
#define COURIER_MESSAGE_H

#include <stddef.h>

#ifndef MODULE_SCOPE
#define MODULE_SCOPE extern __attribute__((__visibility__("hidden")))
#endif

typedef struct CourierMsgBlock CourierMsgBlock;
typedef struct CourierPort CourierPort;

typedef struct CourierMsg {
    struct CourierMsg *next;	/* Chain of a batch, then the inbox queue. */
    CourierPort *port;		/* Set when posted. */
    CourierMsgBlock *block;	/* The allocation this message lives in. */
    int kind;			/* Meaning chosen by the port's owner. */
    int aux;			/* A second value of the owner's (0 unless
				 * set). */
    size_t size;		/* Number of payload bytes. */
    unsigned char data[];	/* The payload. */
} CourierMsg;

/* The payload size of one socket read: such messages are pooled. */
#define COURIER_MSG_READ_SIZE (64 * 1024)

MODULE_SCOPE CourierMsg *CourierMsgAlloc(size_t size);
MODULE_SCOPE CourierMsg *CourierMsgAllocChain(size_t count,
			    const size_t *sizes, size_t sameSize);
MODULE_SCOPE void	CourierMsgFree(CourierMsg *msgPtr);
MODULE_SCOPE void	CourierMsgFreeChain(CourierMsg *headPtr);
MODULE_SCOPE void	CourierMsgBlockRelease(CourierMsgBlock *blockPtr,
			    size_t count);
MODULE_SCOPE void	CourierMsgPoolFree(void);

#endif /* COURIER_MESSAGE_H */
