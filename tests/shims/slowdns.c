/*
 * slowdns.c --
 *
 *	An LD_PRELOAD shim for the tests: getaddrinfo() for a few special
 *	names under .test (a reserved top-level domain, RFC 2606) answers
 *	with loopback addresses only; every other name goes to the real
 *	getaddrinfo (dlsym RTLD_NEXT).
 *
 *	  slow.name.test   sleeps 2 s, then 127.0.0.1
 *	  slow6.name.test  sleeps 2 s, then ::1
 *	  two.name.test    at once: ::1 first, then 127.0.0.1
 *	  fail.name.test   sleeps 2 s, then EAI_NONAME
 *
 *	The sleep can be changed with COURIER_SLOWDNS_MS. Each lookup of a
 *	special name appends one line to $COURIER_SLOWDNS_LOG, when set.
 *
 *	Built by the tests with:
 *	  cc -shared -fPIC -o slowdns.so slowdns.c -ldl
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <sys/socket.h>

typedef int (GaiProc)(const char *, const char *, const struct addrinfo *,
	struct addrinfo **);

static GaiProc *
RealGetaddrinfo(void)
{
    static GaiProc *real = NULL;

    if (real == NULL) {
	real = (GaiProc *) dlsym(RTLD_NEXT, "getaddrinfo");
    }
    return real;
}

static void
Sleep(void)
{
    const char *env = getenv("COURIER_SLOWDNS_MS");
    long ms = env ? atol(env) : 2000;
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void
Log(const char *node)
{
    const char *path = getenv("COURIER_SLOWDNS_LOG");
    FILE *f;

    if (path != NULL && (f = fopen(path, "a")) != NULL) {
	fprintf(f, "%s\n", node);
	fclose(f);
    }
}

/* A lookup of a numeric address with the caller's hints. */
static int
Numeric(
    const char *addr,
    const char *service,
    const struct addrinfo *hints,
    struct addrinfo **res)
{
    struct addrinfo h;

    memset(&h, 0, sizeof(h));
    if (hints != NULL) {
	h = *hints;
    }
    h.ai_flags |= AI_NUMERICHOST;
    h.ai_flags &= ~AI_CANONNAME;
    return RealGetaddrinfo()(addr, service, &h, res);
}

int
getaddrinfo(
    const char *node,
    const char *service,
    const struct addrinfo *hints,
    struct addrinfo **res)
{
    if (node != NULL && strcmp(node, "slow.name.test") == 0) {
	Log(node);
	Sleep();
	return Numeric("127.0.0.1", service, hints, res);
    }
    if (node != NULL && strcmp(node, "slow6.name.test") == 0) {
	Log(node);
	Sleep();
	return Numeric("::1", service, hints, res);
    }
    if (node != NULL && strcmp(node, "fail.name.test") == 0) {
	Log(node);
	Sleep();
	return EAI_NONAME;
    }
    if (node != NULL && strcmp(node, "two.name.test") == 0) {
	struct addrinfo *first = NULL, *second = NULL, *last;
	int family = hints ? hints->ai_family : AF_UNSPEC;

	Log(node);
	/* glibc allocates each result node on its own: lists chain. */
	if (family != AF_INET) {
	    Numeric("::1", service, hints, &first);
	}
	if (family != AF_INET6) {
	    Numeric("127.0.0.1", service, hints, &second);
	}
	if (first == NULL) {
	    first = second;
	} else {
	    for (last = first; last->ai_next != NULL; last = last->ai_next) {
	    }
	    last->ai_next = second;
	}
	if (first == NULL) {
	    return EAI_NONAME;
	}
	*res = first;
	return 0;
    }
    return RealGetaddrinfo()(node, service, hints, res);
}
