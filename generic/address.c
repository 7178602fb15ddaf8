/*
 * address.c --
 *
 *	Socket addresses and binding for the handles that bind in the Tcl
 *	thread (listeners, UDP sockets), so that "address in use" and the
 *	port picked for port 0 are known when the command returns. No name
 *	lookup happens here: a local address is numeric, or localhost.
 *
 *	Also the system's view of a local interface and of a bound socket:
 *	an interface named for multicast (CourierInterfaceAddress) and the
 *	kernel's drop count of a UDP socket (CourierKernelDrops).
 *
 *	Runs in the calling thread; keeps no state.
 */

#include "courierInt.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <ifaddrs.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

/*
 *----------------------------------------------------------------------
 *
 * CourierParseAddress --
 *
 *	A numeric address (or localhost: 127.0.0.1, ::1 when family is
 *	AF_INET6) and a port as a socket address of family (AF_UNSPEC:
 *	either).
 *
 * Results:
 *	1 and *addrPtr set, or 0 when host is not such an address.
 *
 *----------------------------------------------------------------------
 */

int
CourierParseAddress(
    const char *host,
    int port,
    int family,
    struct sockaddr_storage *addrPtr)
{
    memset(addrPtr, 0, sizeof(*addrPtr));
    if (strcmp(host, "localhost") == 0) {
	host = family == AF_INET6 ? "::1" : "127.0.0.1";
    }
    if (family != AF_INET6 && uv_ip4_addr(host, port,
	    (struct sockaddr_in *) addrPtr) == 0) {
	return 1;
    }
    if (family != AF_INET && uv_ip6_addr(host, port,
	    (struct sockaddr_in6 *) addrPtr) == 0) {
	return 1;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierBindSocket --
 *
 *	socket, options, bind and, for a stream with a backlog, listen, in
 *	the calling thread. flags are COURIER_BIND_* bits; what says what
 *	failed ("listen on", "bind a UDP socket to").
 *
 * Results:
 *	The descriptor (non-blocking, close-on-exec), its family and the
 *	port bound; or -1 with an error in interp: {COURIER VALUE -host}
 *	for an address that is not numeric, {COURIER POSIX errname} for
 *	the system calls.
 *
 *----------------------------------------------------------------------
 */

int
CourierBindSocket(
    Tcl_Interp *interp,
    int type,
    const char *host,
    int port,
    int family,
    int flags,
    int backlog,
    const char *what,
    int *familyPtr,
    int *boundPortPtr)
{
    struct sockaddr_storage addr;
    socklen_t len;
    int fd, on = 1, err;

    if (!CourierParseAddress(host, port, family, &addr)) {
	CourierError(interp, "VALUE", "-host",
		"bad value \"%.100s\" for -host: expected a numeric %s "
		"address, or localhost", host, family == AF_INET ? "IPv4"
		: family == AF_INET6 ? "IPv6" : "IPv4 or IPv6");
	return -1;
    }
    family = addr.ss_family;
    len = family == AF_INET ? sizeof(struct sockaddr_in)
	    : sizeof(struct sockaddr_in6);
    fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
	CourierError(interp, "POSIX", Tcl_ErrnoId(),
		"cannot create a socket: %s", Tcl_ErrnoMsg(errno));
	return -1;
    }
    if (flags & COURIER_BIND_REUSEADDR) {
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    }
    if (flags & COURIER_BIND_REUSEPORT) {
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    }
    if ((flags & COURIER_BIND_V6ONLY) && family == AF_INET6) {
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    }
    if (bind(fd, (struct sockaddr *) &addr, len) < 0
	    || (backlog > 0 && listen(fd, backlog) < 0)) {
	err = errno;
	close(fd);
	errno = err;
	CourierError(interp, "POSIX", Tcl_ErrnoId(), "cannot %s %s port %d: %s",
		what, host, port, Tcl_ErrnoMsg(err));
	return -1;
    }
    len = sizeof(addr);
    getsockname(fd, (struct sockaddr *) &addr, &len);
    *familyPtr = family;
    *boundPortPtr = ntohs(family == AF_INET
	    ? ((struct sockaddr_in *) &addr)->sin_port
	    : ((struct sockaddr_in6 *) &addr)->sin6_port);
    return fd;
}

/*
 * CourierInterfaceAddress --
 *	A multicast interface given by name or address, as the address
 *	libuv takes: an IPv4 address, or "::%name" for IPv6 (the scope
 *	names the interface). Returns 0, or -1 with an error in interp.
 *	For UDP multicast membership (udp.c).
 */

int
CourierInterfaceAddress(
    Tcl_Interp *interp,
    int family,
    const char *iface,
    char *buf,
    size_t bufSize)
{
    struct sockaddr_storage addr;
    struct ifaddrs *list, *ifa;
    int found = 0;

    if (CourierParseAddress(iface, 0, family, &addr)) {
	snprintf(buf, bufSize, "%s", iface);
	return 0;
    }
    if (family == AF_INET6) {
	snprintf(buf, bufSize, "::%%%s", iface);
	if (uv_ip6_addr(buf, 0, (struct sockaddr_in6 *) &addr) == 0
		&& ((struct sockaddr_in6 *) &addr)->sin6_scope_id != 0) {
	    return 0;
	}
    } else if (getifaddrs(&list) == 0) {
	for (ifa = list; ifa != NULL; ifa = ifa->ifa_next) {
	    if (ifa->ifa_addr != NULL && ifa->ifa_addr->sa_family == AF_INET
		    && strcmp(ifa->ifa_name, iface) == 0) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)
			ifa->ifa_addr)->sin_addr, buf, (socklen_t) bufSize);
		found = 1;
		break;
	    }
	}
	freeifaddrs(list);
	if (found) {
	    return 0;
	}
    }
    return CourierError(interp, "VALUE", "interface",
	    "bad interface \"%.100s\": expected the address or the name of "
	    "a network interface", iface);
}

/*
 * CourierKernelDrops --
 *	How many datagrams the kernel dropped for a UDP socket (its receive
 *	buffer was full), from the "drops" column of /proc/net/udp or udp6;
 *	-1 where that cannot be read.
 */

Tcl_WideInt
CourierKernelDrops(
    int family,			/* AF_INET or AF_INET6. */
    unsigned long sockInode)	/* The socket's inode, 0 if unknown. */
{
    FILE *f = fopen(family == AF_INET6 ? "/proc/net/udp6"
	    : "/proc/net/udp", "r");
    char line[512];
    Tcl_WideInt drops = -1;

    if (f == NULL || sockInode == 0) {
	if (f != NULL) {
	    fclose(f);
	}
	return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
	unsigned long inode;
	long long value;
	char *field = line;
	int i;

	/* sl local rem st tx:rx tr:when retr uid timeout inode ref ptr drops */
	for (i = 0; i < 9 && field != NULL; i++) {
	    field += strspn(field, " ");
	    field = strchr(field, ' ');
	}
	if (field == NULL || sscanf(field, "%lu %*s %*s %lld", &inode,
		&value) != 2 || inode != sockInode) {
	    continue;
	}
	drops = value;
	break;
    }
    fclose(f);
    return drops;
}
