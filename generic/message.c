/*
 * message.c --
 *
 *	Allocation of messages in blocks (see message.h). A block counts the
 *	messages still alive in it; the count is atomic because the producer
 *	allocates a block in its thread and the owner thread frees its
 *	messages one by one.
 *
 *	Two kinds of blocks are recycled rather than given back to malloc:
 *	- one read-sized message (a socket read): a stream of reads would
 *	  otherwise make malloc return the memory to the system and fault it
 *	  back in;
 *	- one small message (an actor's mail, a reply): these are allocated
 *	  in one thread and freed in another at up to a million a second,
 *	  and malloc serializes such pairs on its arena lock. Each thread
 *	  keeps freed small blocks in a cache and trades them with the shared
 *	  pool a batch at a time, so the pool lock is taken once per
 *	  SMALL_BATCH messages on each side.
 */

#include "courierInt.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <assert.h>

/* CourierMsgBlock.kind */
enum {
    BLOCK_PLAIN = 0,		/* malloc'ed, freed. */
    BLOCK_READ,			/* One read-sized message: read pool. */
    BLOCK_SMALL			/* One small message: small pool. */
};

struct CourierMsgBlock {
    atomic_size_t live;		/* Messages of this block not yet freed. */
    CourierMsgBlock *nextFree;	/* In a pool, cache or batch. */
    CourierMsgBlock *nextBatch;	/* In a pool: the next entry. */
    int kind;			/* BLOCK_* */
    _Alignas(16) unsigned char bytes[];
};

/* Each message starts on a 16-byte boundary within its block. */
#define MSG_ALIGN 16
#define MSG_SPAN(size) \
    ((sizeof(CourierMsg) + (size) + MSG_ALIGN - 1) & ~(size_t) (MSG_ALIGN - 1))

/* The size of every small block, header included. */
#define SMALL_BLOCK_BYTES 256

/* Blocks a thread's cache trades with the pool at a time. */
#define SMALL_BATCH 64

/* Batches the small pool keeps at most (here 1 MiB); the rest is freed. */
#define SMALL_POOL_MAX 64

/* Read-sized blocks the read pool keeps at most. */
#define READ_POOL_MAX 32

/*
 * One thread's small blocks: a list it allocates from and a list of
 * blocks it has freed, each up to SMALL_BATCH long.
 */

typedef struct SmallCache {
    CourierMsgBlock *allocList;
    CourierMsgBlock *freeList;
    int freeCount;
} SmallCache;

static uv_mutex_t poolLock;
static uv_once_t poolOnce = UV_ONCE_INIT;

/*
 * A shared pool of recycled blocks, guarded by poolLock: a list of entries
 * through nextBatch, each entry a list of blocks through nextFree (a read
 * block alone, or a batch of small blocks). Keeps max entries at most.
 */

typedef struct BlockPool {
    CourierMsgBlock *entries;
    int count;
    int max;
} BlockPool;

static BlockPool readPool = {NULL, 0, READ_POOL_MAX};
static BlockPool smallPool = {NULL, 0, SMALL_POOL_MAX};
static atomic_int cacheKeyValid;	/* cacheKey exists. Written under
					 * the lock, read without it. */

static pthread_key_t cacheKey;		/* The thread's SmallCache. */

static void		CacheExit(void *value);
static SmallCache *	CacheGet(void);
static void		PoolInit(void);
static void		PoolPut(BlockPool *poolPtr, CourierMsgBlock *listPtr);
static CourierMsgBlock *PoolTake(BlockPool *poolPtr);

static void
PoolInit(void)
{
    uv_mutex_init(&poolLock);
}

/*
 * FreeList --
 *	Gives a list of blocks (through nextFree) back to malloc.
 */

static void
FreeList(
    CourierMsgBlock *blockPtr)
{
    while (blockPtr != NULL) {
	CourierMsgBlock *nextPtr = blockPtr->nextFree;

	free(blockPtr);
	blockPtr = nextPtr;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CacheGet --
 *
 *	Returns the calling thread's small-block cache, made on first use.
 *	The cache goes back to the pool when the thread exits (CacheExit,
 *	a thread-specific data destructor, so that it works in every thread
 *	that frees a message, Courier's own or not).
 *
 * Results:
 *	The cache, or NULL when it cannot be had (no memory, or Courier is
 *	being unloaded): the caller then uses malloc and free.
 *
 *----------------------------------------------------------------------
 */

static SmallCache *
CacheGet(void)
{
    SmallCache *cachePtr;

    uv_once(&poolOnce, PoolInit);
    if (!atomic_load_explicit(&cacheKeyValid, memory_order_acquire)) {
	int valid;

	uv_mutex_lock(&poolLock);
	valid = atomic_load(&cacheKeyValid);
	if (!valid && pthread_key_create(&cacheKey, CacheExit) == 0) {
	    valid = 1;
	    atomic_store_explicit(&cacheKeyValid, 1, memory_order_release);
	}
	uv_mutex_unlock(&poolLock);
	if (!valid) {
	    return NULL;
	}
    }
    cachePtr = pthread_getspecific(cacheKey);
    if (cachePtr == NULL) {
	cachePtr = calloc(1, sizeof(SmallCache));
	if (cachePtr == NULL || pthread_setspecific(cacheKey, cachePtr) != 0) {
	    free(cachePtr);
	    return NULL;
	}
    }
    return cachePtr;
}

/*
 * CacheExit --
 *	Thread exit: the thread's cached blocks go to the pool (or are
 *	freed when it is full).
 */

static void
CacheExit(
    void *value)
{
    SmallCache *cachePtr = value;

    if (cachePtr->allocList != NULL) {
	PoolPut(&smallPool, cachePtr->allocList);
    }
    if (cachePtr->freeList != NULL) {
	PoolPut(&smallPool, cachePtr->freeList);
    }
    free(cachePtr);
}

/*
 * PoolPut, PoolTake --
 *	Trade one entry (a list through nextFree) with a shared pool. Put
 *	frees the list when the pool is full; take returns NULL when it is
 *	empty.
 */

static void
PoolPut(
    BlockPool *poolPtr,
    CourierMsgBlock *listPtr)
{
    uv_mutex_lock(&poolLock);
    if (poolPtr->count < poolPtr->max) {
	listPtr->nextBatch = poolPtr->entries;
	poolPtr->entries = listPtr;
	poolPtr->count++;
	listPtr = NULL;
    }
    uv_mutex_unlock(&poolLock);
    FreeList(listPtr);
}

static CourierMsgBlock *
PoolTake(
    BlockPool *poolPtr)
{
    CourierMsgBlock *listPtr;

    uv_mutex_lock(&poolLock);
    listPtr = poolPtr->entries;
    if (listPtr != NULL) {
	poolPtr->entries = listPtr->nextBatch;
	poolPtr->count--;
    }
    uv_mutex_unlock(&poolLock);
    return listPtr;
}

/*
 * SmallAlloc --
 *	A small block from the thread's cache: its own frees first, then a
 *	batch from the pool; NULL when both are empty.
 */

static CourierMsgBlock *
SmallAlloc(void)
{
    SmallCache *cachePtr = CacheGet();
    CourierMsgBlock *blockPtr;

    if (cachePtr == NULL) {
	return NULL;
    }
    if (cachePtr->allocList == NULL) {
	if (cachePtr->freeList != NULL) {
	    cachePtr->allocList = cachePtr->freeList;
	    cachePtr->freeList = NULL;
	    cachePtr->freeCount = 0;
	} else {
	    cachePtr->allocList = PoolTake(&smallPool);
	}
    }
    blockPtr = cachePtr->allocList;
    if (blockPtr != NULL) {
	cachePtr->allocList = blockPtr->nextFree;
    }
    return blockPtr;
}

/*
 * SmallFree --
 *	A small block goes to the thread's cache; a full cache goes to the
 *	pool as one batch.
 */

static void
SmallFree(
    CourierMsgBlock *blockPtr)
{
    SmallCache *cachePtr = CacheGet();

    if (cachePtr == NULL) {
	free(blockPtr);
	return;
    }
    blockPtr->nextFree = cachePtr->freeList;
    cachePtr->freeList = blockPtr;
    if (++cachePtr->freeCount == SMALL_BATCH) {
	cachePtr->freeList = NULL;
	cachePtr->freeCount = 0;
	PoolPut(&smallPool, blockPtr);
    }
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
    int kind;

    assert(count > 0);
    for (i = 0; i < count; i++) {
	total += MSG_SPAN(sizes ? sizes[i] : sameSize);
    }
    blockPtr = NULL;
    kind = BLOCK_PLAIN;
    if (count == 1 && total == MSG_SPAN(COURIER_MSG_READ_SIZE)) {
	kind = BLOCK_READ;
	uv_once(&poolOnce, PoolInit);
	blockPtr = PoolTake(&readPool);
    } else if (count == 1
	    && sizeof(CourierMsgBlock) + total <= SMALL_BLOCK_BYTES) {
	kind = BLOCK_SMALL;
	blockPtr = SmallAlloc();
	total = SMALL_BLOCK_BYTES - sizeof(CourierMsgBlock);
    }
    if (blockPtr == NULL) {
	blockPtr = CourierAlloc(sizeof(CourierMsgBlock) + total);
    }
    blockPtr->kind = kind;
    atomic_init(&blockPtr->live, count);
    for (i = 0; i < count; i++) {
	size_t size = sizes ? sizes[i] : sameSize;
	CourierMsg *msgPtr = (CourierMsg *) (blockPtr->bytes + offset);

	msgPtr->next = NULL;
	msgPtr->port = NULL;
	msgPtr->block = blockPtr;
	msgPtr->kind = 0;
	msgPtr->aux = 0;
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
    if (blockPtr->kind == BLOCK_SMALL) {
	SmallFree(blockPtr);
	return;
    }
    if (blockPtr->kind == BLOCK_READ) {
	blockPtr->nextFree = NULL;	/* An entry of its own. */
	PoolPut(&readPool, blockPtr);
	return;
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
 *	Unload: frees the pools and the calling thread's cache. Threads
 *	that still hold a cache keep it (a small leak) rather than call a
 *	destructor in unloaded code: the key is deleted.
 */

void
CourierMsgPoolFree(void)
{
    CourierMsgBlock *listPtr;
    SmallCache *cachePtr = NULL;

    uv_once(&poolOnce, PoolInit);
    uv_mutex_lock(&poolLock);
    if (atomic_load(&cacheKeyValid)) {
	cachePtr = pthread_getspecific(cacheKey);
	pthread_setspecific(cacheKey, NULL);
	pthread_key_delete(cacheKey);
	atomic_store(&cacheKeyValid, 0);
    }
    uv_mutex_unlock(&poolLock);

    while ((listPtr = PoolTake(&readPool)) != NULL) {
	FreeList(listPtr);
    }
    while ((listPtr = PoolTake(&smallPool)) != NULL) {
	FreeList(listPtr);
    }
    if (cachePtr != NULL) {
	FreeList(cachePtr->allocList);
	FreeList(cachePtr->freeList);
	free(cachePtr);
    }
}
