/*
 * message.c --
 *
 *	Allocation of messages in blocks (see message.h). A block counts the
 *	messages still alive in it; the count is atomic because the producer
 *	allocates a block in its thread and the owner thread frees its
 *	messages one by one.
 */

#include "courierInt.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <assert.h>

struct CourierMsgBlock {
    atomic_size_t live;		/* Messages of this block not yet freed. */
    CourierMsgBlock *nextFree;	/* In the pool. */
    int pooled;			/* One read-sized message: recycle it. */
    _Alignas(16) unsigned char bytes[];
};

/* Each message starts on a 16-byte boundary within its block. */
#define MSG_ALIGN 16
#define MSG_SPAN(size) \
    ((sizeof(CourierMsg) + (size) + MSG_ALIGN - 1) & ~(size_t) (MSG_ALIGN - 1))

/*
 * Blocks of one COURIER_MSG_READ_SIZE message (what a socket read fills)
 * are kept in a small pool when freed: a stream of reads would otherwise
 * make malloc return the memory to the system and fault it back in.
 */

#define POOL_MAX 32

static uv_mutex_t poolLock;
static uv_once_t poolOnce = UV_ONCE_INIT;
static CourierMsgBlock *poolHead;	/* Guarded by poolLock. */
static int poolCount;

static void
PoolInit(void)
{
    uv_mutex_init(&poolLock);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierMsgAllocChain --
 *
 *	Allocates count messages in one block, linked through their next
 *	fields in order. Message i gets sizes[i] payload bytes, or sameSize
 *	bytes when sizes is NULL.
 *
 * Results:
 *	The first message of the chain. Aborts (Tcl_Panic) when memory is
 *	out, as ckalloc does.
 *
 *----------------------------------------------------------------------
 */

CourierMsg *
CourierMsgAllocChain(
    size_t count,
    const size_t *sizes,
    size_t sameSize)
{
    CourierMsgBlock *blockPtr;
    CourierMsg *headPtr = NULL, **linkPtr = &headPtr;
    size_t i, total = 0, offset = 0;

    assert(count > 0);
    for (i = 0; i < count; i++) {
	total += MSG_SPAN(sizes ? sizes[i] : sameSize);
    }
    blockPtr = NULL;
    if (count == 1 && total == MSG_SPAN(COURIER_MSG_READ_SIZE)) {
	uv_once(&poolOnce, PoolInit);
	uv_mutex_lock(&poolLock);
	if (poolHead != NULL) {
	    blockPtr = poolHead;
	    poolHead = blockPtr->nextFree;
	    poolCount--;
	}
	uv_mutex_unlock(&poolLock);
    }
    if (blockPtr == NULL) {
	blockPtr = malloc(sizeof(CourierMsgBlock) + total);
	if (blockPtr == NULL) {
	    CourierPanicOutOfMemory(sizeof(CourierMsgBlock) + total);
	}
    }
    blockPtr->pooled = (count == 1
	    && total == MSG_SPAN(COURIER_MSG_READ_SIZE));
    atomic_init(&blockPtr->live, count);
    for (i = 0; i < count; i++) {
	size_t size = sizes ? sizes[i] : sameSize;
	CourierMsg *msgPtr = (CourierMsg *) (blockPtr->bytes + offset);

	msgPtr->next = NULL;
	msgPtr->port = NULL;
	msgPtr->block = blockPtr;
	msgPtr->kind = 0;
	msgPtr->size = size;
	*linkPtr = msgPtr;
	linkPtr = &msgPtr->next;
	offset += MSG_SPAN(size);
    }
    return headPtr;
}

/*
 * CourierMsgAlloc --
 *	One message in a block of its own.
 */

CourierMsg *
CourierMsgAlloc(
    size_t size)
{
    return CourierMsgAllocChain(1, NULL, size);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierMsgFree, CourierMsgFreeChain --
 *
 *	Frees one message, or every message of a chain; a block goes with
 *	its last message.
 *
 *----------------------------------------------------------------------
 */

void
CourierMsgFree(
    CourierMsg *msgPtr)
{
    CourierMsgBlockRelease(msgPtr->block, 1);
}

/*
 * CourierMsgBlockRelease --
 *	Frees count messages of one block at once (the inbox frees runs of
 *	messages that share a block with one atomic operation).
 */

void
CourierMsgBlockRelease(
    CourierMsgBlock *blockPtr,
    size_t count)
{
    size_t before = atomic_fetch_sub_explicit(&blockPtr->live, count,
	    memory_order_acq_rel);

    assert(before >= count);
    if (before != count) {
	return;
    }
    if (blockPtr->pooled) {
	uv_mutex_lock(&poolLock);
	if (poolCount < POOL_MAX) {
	    blockPtr->nextFree = poolHead;
	    poolHead = blockPtr;
	    poolCount++;
	    blockPtr = NULL;
	}
	uv_mutex_unlock(&poolLock);
    }
    free(blockPtr);
}

void
CourierMsgFreeChain(
    CourierMsg *headPtr)
{
    while (headPtr != NULL) {
	CourierMsg *nextPtr = headPtr->next;

	CourierMsgFree(headPtr);
	headPtr = nextPtr;
    }
}

/*
 * CourierMsgPoolFree --
 *	Frees the pooled blocks (unload).
 */

void
CourierMsgPoolFree(void)
{
    CourierMsgBlock *blockPtr;

    uv_once(&poolOnce, PoolInit);
    uv_mutex_lock(&poolLock);
    blockPtr = poolHead;
    poolHead = NULL;
    poolCount = 0;
    uv_mutex_unlock(&poolLock);
    while (blockPtr != NULL) {
	CourierMsgBlock *nextPtr = blockPtr->nextFree;

	free(blockPtr);
	blockPtr = nextPtr;
    }
}
