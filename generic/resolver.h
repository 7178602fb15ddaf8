/*
 * resolver.h --
 *
 *	Name lookups for the I/O threads, in Courier's own named resolver
 *	threads (see resolver.c).
 */

#ifndef COURIER_RESOLVE_H
#define COURIER_RESOLVE_H

#include "io.h"

struct addrinfo;
typedef struct CourierResolveReq CourierResolveReq;

/*
 * Runs in the asking I/O thread with 0 or a UV_EAI_* code and the
 * addresses (free them with CourierResolveFree); or, once that thread has
 * stopped, in any thread with UV_ECANCELED and NULL.
 */

typedef void (CourierResolveProc)(void *clientData, int status,
	struct addrinfo *result);

MODULE_SCOPE int	CourierResolve(CourierIoThread *ioPtr,
			    const char *host, const char *service, int family,
			    CourierResolveProc *doneProc, void *clientData);
MODULE_SCOPE void	CourierResolveFree(struct addrinfo *result);
MODULE_SCOPE void	CourierResolverStop(int atExit);

#endif /* COURIER_RESOLVE_H */
