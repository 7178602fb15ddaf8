/*
 * mail.c --
 *
 *	The actors' messages: the wire format of words (a fixed header, then
 *	tagged, length-prefixed strings and byte arrays, copied so that no
 *	Tcl_Obj crosses threads), reply channels and sync slots and their
 *	references, sending a reply or an error reply, and rejecting a
 *	mailbox message that will never run.
 *
 *	Threads: any. Words are built by the sender's thread and read by the
 *	receiver's; replies are sent from the actor thread (or from whichever
 *	thread rejects a message).
 */

#include "actorInt.h"

static const Tcl_ObjType *byteArrayType;

/*
 *----------------------------------------------------------------------
 *
 * CourierActorMailInit --
 *
 *	Looks up what the wire format needs once per process (called from
 *	CourierActorRegistryInit, under its uv_once).
 *
 *----------------------------------------------------------------------
 */

void
CourierActorMailInit(void)
{
    byteArrayType = Tcl_GetObjType("bytearray");
}

/*
 * CourierActorNoopNotify --
 *	The notify procedure of the actors' ports: nothing to do, as they
 *	are never throttled (PORT_NO_LIMIT).
 */

void
CourierActorNoopNotify(
    void *producerData,
    int event)
{
    (void) producerData;
    (void) event;
}

/*
 *----------------------------------------------------------------------
 *
 * Words: the wire format --
 *
 *	A message's payload is a fixed header followed by words, each a tag
 *	byte ('s' string, 'b' byte array), a 4-byte length and the bytes.
 *	A string word carries Tcl's own UTF-8 form, so the receiver rebuilds
 *	the exact value; a pure byte array (one with no string form yet)
 *	crosses as raw bytes and is rebuilt as a byte array.
 *
 *----------------------------------------------------------------------
 */

const unsigned char *
CourierActorWordOf(
    Tcl_Obj *objPtr,
    size_t *lenPtr,
    int *tagPtr)
{
    int len;
    const unsigned char *bytes;

    if (objPtr->bytes == NULL && objPtr->typePtr == byteArrayType
	    && byteArrayType != NULL) {
	bytes = Tcl_GetByteArrayFromObj(objPtr, &len);
	*tagPtr = WORD_BYTES;
    } else {
	bytes = (const unsigned char *) Tcl_GetStringFromObj(objPtr, &len);
	*tagPtr = WORD_STRING;
    }
    *lenPtr = (size_t) len;
    return bytes;
}

static unsigned char *
PutWord(
    unsigned char *p,
    int tag,
    const unsigned char *bytes,
    size_t len)
{
    uint32_t n = (uint32_t) len;

    *p++ = (unsigned char) tag;
    memcpy(p, &n, sizeof(n));
    p += sizeof(n);
    if (len > 0) {
	memcpy(p, bytes, len);
    }
    return p + len;
}

/* Reads one word; returns NULL when the payload is malformed. */
const unsigned char *
CourierActorGetWord(
    const unsigned char *p,
    const unsigned char *end,
    int *tagPtr,
    const unsigned char **bytesPtr,
    size_t *lenPtr)
{
    uint32_t n;

    if (end - p < (ptrdiff_t) (1 + sizeof(n))) {
	return NULL;
    }
    *tagPtr = *p++;
    memcpy(&n, p, sizeof(n));
    p += sizeof(n);
    if ((size_t) (end - p) < n) {
	return NULL;
    }
    *bytesPtr = p;
    *lenPtr = n;
    return p + n;
}

Tcl_Obj *
CourierActorWordObj(
    int tag,
    const unsigned char *bytes,
    size_t len)
{
    if (tag == WORD_BYTES) {
	return Tcl_NewByteArrayObj(bytes, (int) len);
    }
    return Tcl_NewStringObj((const char *) bytes, (int) len);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorMakeMail --
 *
 *	Copies a command's words into one new mailbox message (sender's
 *	thread).
 *
 *----------------------------------------------------------------------
 */

CourierMsg *
CourierActorMakeMail(
    int kind,
    Actor *actorPtr,
    void *replyPtr,
    uint64_t id,
    int objc,
    Tcl_Obj *const objv[])
{
    const unsigned char *stackBytes[16], **bytes = stackBytes;
    size_t stackLens[16], *lens = stackLens;
    int stackTags[16], *tags = stackTags;
    size_t total = sizeof(MailHeader);
    MailHeader header;
    CourierMsg *msgPtr;
    unsigned char *p;
    int i;

    if (objc > 16) {
	bytes = (const unsigned char **) ckalloc(sizeof(*bytes) * objc);
	lens = (size_t *) ckalloc(sizeof(*lens) * objc);
	tags = (int *) ckalloc(sizeof(*tags) * objc);
    }
    for (i = 0; i < objc; i++) {
	bytes[i] = CourierActorWordOf(objv[i], &lens[i], &tags[i]);
	total += 1 + sizeof(uint32_t) + lens[i];
    }
    msgPtr = CourierMsgAlloc(total);
    msgPtr->kind = kind;
    header.actorPtr = actorPtr;
    header.replyPtr = replyPtr;
    header.id = id;
    header.argc = (uint32_t) objc;
    memcpy(msgPtr->data, &header, sizeof(header));
    p = msgPtr->data + sizeof(header);
    for (i = 0; i < objc; i++) {
	p = PutWord(p, tags[i], bytes[i], lens[i]);
    }
    assert(p == msgPtr->data + total);
    if (bytes != stackBytes) {
	ckfree(bytes);
	ckfree(lens);
	ckfree(tags);
    }
    return msgPtr;
}

/*
 * CourierActorMakeWords --
 *	A reply or notice: an 8-byte id, then n words.
 */

CourierMsg *
CourierActorMakeWords(
    int kind,
    uint64_t id,
    int n,
    const unsigned char *const bytes[],
    const size_t lengths[],
    const int tags[])
{
    size_t total = sizeof(id);
    CourierMsg *msgPtr;
    unsigned char *p;
    int i;

    for (i = 0; i < n; i++) {
	total += 1 + sizeof(uint32_t) + lengths[i];
    }
    msgPtr = CourierMsgAlloc(total);
    msgPtr->kind = kind;
    memcpy(msgPtr->data, &id, sizeof(id));
    p = msgPtr->data + sizeof(id);
    for (i = 0; i < n; i++) {
	p = PutWord(p, tags ? tags[i] : WORD_STRING, bytes[i], lengths[i]);
    }
    return msgPtr;
}

/*
 * CourierActorReadWords --
 *	Decodes a reply or notice into its id and up to max words as new
 *	Tcl objects (not yet referenced); returns how many were read.
 */

int
CourierActorReadWords(
    CourierMsg *msgPtr,
    uint64_t *idPtr,
    int max,
    Tcl_Obj *objv[])
{
    const unsigned char *p = msgPtr->data, *end = p + msgPtr->size;
    int n = 0;

    assert(msgPtr->size >= sizeof(*idPtr));
    memcpy(idPtr, p, sizeof(*idPtr));
    p += sizeof(*idPtr);
    while (n < max && p < end) {
	const unsigned char *bytes;
	size_t len;
	int tag;

	p = CourierActorGetWord(p, end, &tag, &bytes, &len);
	assert(p != NULL);
	objv[n++] = CourierActorWordObj(tag, bytes, len);
    }
    return n;
}

/*
 *----------------------------------------------------------------------
 *
 * ReplyChannel and SyncSlot references --
 *
 *----------------------------------------------------------------------
 */

void
CourierActorChannelUnref(
    ReplyChannel *channelPtr)
{
    if (atomic_fetch_sub(&channelPtr->refCount, 1) == 1) {
	CourierPortRelease(channelPtr->port);
	free(channelPtr);
    }
}

SyncSlot *
CourierActorSlotNew(void)
{
    SyncSlot *slotPtr = CourierAllocZero(sizeof(SyncSlot));

    uv_mutex_init(&slotPtr->lock);
    uv_cond_init(&slotPtr->cond);
    atomic_init(&slotPtr->refCount, 2);
    return slotPtr;
}

void
CourierActorSlotUnref(
    SyncSlot *slotPtr)
{
    if (atomic_fetch_sub(&slotPtr->refCount, 1) == 1) {
	if (slotPtr->reply != NULL) {
	    CourierMsgFree(slotPtr->reply);
	}
	uv_cond_destroy(&slotPtr->cond);
	uv_mutex_destroy(&slotPtr->lock);
	free(slotPtr);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorReplySend, CourierActorReplyWithResult,
 * CourierActorReplyWithError --
 *
 *	Answers an ask or a call (actor thread, or a discarding thread):
 *	the reply message goes to the caller's reply port or into its sync
 *	slot, and the reference the ask held is dropped.
 *
 *----------------------------------------------------------------------
 */

void
CourierActorReplySend(
    ReplyTo *toPtr,
    CourierMsg *replyPtr)
{
    if (toPtr->kind == MAIL_ASK) {
	ReplyChannel *channelPtr = toPtr->ptr;

	/* A closed port (the caller is gone) frees the reply. */
	CourierPortPost(channelPtr->port, replyPtr);
	CourierActorChannelUnref(channelPtr);
    } else {
	SyncSlot *slotPtr = toPtr->ptr;

	assert(toPtr->kind == MAIL_CALL);
	uv_mutex_lock(&slotPtr->lock);
	if (!slotPtr->done) {
	    slotPtr->done = 1;
	    slotPtr->reply = replyPtr;
	    replyPtr = NULL;
	    uv_cond_signal(&slotPtr->cond);
	}
	uv_mutex_unlock(&slotPtr->lock);
	if (replyPtr != NULL) {
	    CourierMsgFree(replyPtr);	/* The caller gave up waiting. */
	}
	CourierActorSlotUnref(slotPtr);
    }
    toPtr->kind = 0;
}

void
CourierActorReplyWithError(
    ReplyTo *toPtr,
    const char *message,
    const char *code)
{
    const unsigned char *bytes[2];
    size_t lens[2];

    bytes[0] = (const unsigned char *) message;
    lens[0] = strlen(message);
    bytes[1] = (const unsigned char *) code;
    lens[1] = strlen(code);
    CourierActorReplySend(toPtr, CourierActorMakeWords(REPLY_ERROR, toPtr->id,
	    2, bytes, lens, NULL));
}

void
CourierActorReplyWithResult(
    ReplyTo *toPtr,
    Tcl_Interp *interp,
    int code)
{
    const unsigned char *bytes[2];
    size_t lens[2];
    int tags[2];
    Tcl_Obj *resultPtr = Tcl_GetObjResult(interp);

    Tcl_IncrRefCount(resultPtr);
    if (code == TCL_ERROR) {
	Tcl_Obj *optionsPtr = Tcl_GetReturnOptions(interp, code);
	Tcl_Obj *key = Tcl_NewStringObj("-errorcode", -1), *ecPtr = NULL;

	Tcl_IncrRefCount(optionsPtr);
	Tcl_IncrRefCount(key);
	Tcl_DictObjGet(NULL, optionsPtr, key, &ecPtr);
	if (ecPtr == NULL) {
	    ecPtr = Tcl_NewStringObj("NONE", -1);
	}
	Tcl_IncrRefCount(ecPtr);
	bytes[0] = CourierActorWordOf(resultPtr, &lens[0], &tags[0]);
	bytes[1] = CourierActorWordOf(ecPtr, &lens[1], &tags[1]);
	CourierActorReplySend(toPtr, CourierActorMakeWords(REPLY_ERROR,
		toPtr->id, 2, bytes, lens, tags));
	Tcl_DecrRefCount(ecPtr);
	Tcl_DecrRefCount(key);
	Tcl_DecrRefCount(optionsPtr);
    } else {
	bytes[0] = CourierActorWordOf(resultPtr, &lens[0], &tags[0]);
	CourierActorReplySend(toPtr, CourierActorMakeWords(REPLY_OK, toPtr->id,
		1, bytes, lens, tags));
    }
    Tcl_DecrRefCount(resultPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorMailReject --
 *
 *	A mailbox message that will never run (stop -now, the actor ended,
 *	a crash without restart): an ask or call gets an error reply; the
 *	message leaves the mailbox count. The message is not freed here.
 *
 *----------------------------------------------------------------------
 */

void
CourierActorMailReject(
    CourierMsg *msgPtr,
    const char *why,
    const char *code)
{
    MailHeader header;

    memcpy(&header, msgPtr->data, sizeof(header));
    if (msgPtr->kind == MAIL_ASK || msgPtr->kind == MAIL_CALL) {
	ReplyTo to;
	char message[128];

	to.kind = msgPtr->kind;
	to.ptr = header.replyPtr;
	to.id = header.id;
	snprintf(message, sizeof(message), "actor \"%s\" %s",
		header.actorPtr->name, why);
	CourierActorReplyWithError(&to, message, code);
    }
    if (msgPtr->kind != MAIL_STOP) {
	CourierActorMailboxTaken(header.actorPtr);
    }
}

/*
 * CourierActorMailboxDiscard --
 *	The inbox drops a message of a closed mailbox (the mailbox port
 *	type's discard procedure, actorthread.c).
 */

void
CourierActorMailboxDiscard(
    CourierMsg *msgPtr)
{
    CourierActorMailReject(msgPtr, "stopped before it ran this message",
	    "COURIER ACTOR STOPPED");
}

/*
 * CourierActorMailboxTaken --
 *	One tell or ask left the mailbox, or a sender gave back the slot it
 *	could not have (actorsend.c): wake senders that wait for space.
 */

void
CourierActorMailboxTaken(
    Actor *actorPtr)
{
    size_t before = atomic_fetch_sub(&actorPtr->queued, 1);

    assert(before > 0);
    (void) before;
    if (atomic_load(&actorPtr->spaceWaiters) > 0) {
	uv_mutex_lock(&actorPtr->lock);
	uv_cond_broadcast(&actorPtr->cond);
	uv_mutex_unlock(&actorPtr->lock);
    }
}
