# udp.tcl --
#
#	Courier's datagram sockets (courier::udp) side by side with the `udp`
#	package (Debian tcl-udp: a channel whose `fileevent readable`
#	handler reads one datagram per event), in the same run, the sender
#	always a process of its own sending 64-byte datagrams to 127.0.0.1:
#	  rate	datagrams/s delivered into a Tcl proc while the sender sends
#		as fast as it can, counted over a fixed window; courier with
#		a proc per datagram and with -batch 1 (a proc per burst); the
#		largest gap of an `after 10` ticker in the receiving thread
#		meanwhile;
#	  loss	the fraction delivered at a fixed offered rate (50 000 and
#		200 000 datagrams/s for 5 s, a paced sender), with the
#		kernel's count of the datagrams it dropped for the socket.
#
#	The sender is a small C program compiled at the start of the run
#	(sendmmsg, 64 messages per call, each carrying 64 datagrams that the
#	kernel cuts apart where it offers UDP segmentation, else one;
#	paced: what is due every 50 us),
#	or, without a C compiler, the same loop in Python (a few times
#	slower, so the figures say less).
#
#	The file has two roles:
#	  - sourced by run.tcl, it defines ::bench::udp::run, which builds
#	    the sender, starts one child per scenario and prints the tables;
#	  - run as `tclsh udp.tcl scenario ?args?`, it is that child: it
#	    starts the sender, runs one scenario and prints "result <dict>".
#	Every process ends on its own: the sender stops after its time, or
#	at once when its standard input (a pipe from the child) closes.

namespace eval ::bench::udp {
    variable script [file normalize [info script]]
    # key group mechanism offered-rate label
    variable scenarios {
	rate-udp     rate udp     0      "udp package, fileevent, proc per datagram"
	rate-courier rate courier 0      "courier, proc per datagram"
	rate-batch   rate batch   0      "courier -batch 1, proc per burst"
	loss50-udp      loss udp     50000  "udp package at 50 000/s"
	loss50-courier  loss courier 50000  "courier at 50 000/s"
	loss200-udp     loss udp     200000 "udp package at 200 000/s"
	loss200-courier loss courier 200000 "courier at 200 000/s"
    }
    # The issue's targets.
    variable targets {ratio 5.0 batchRatio 10.0 tickGapMs 20.0}
    variable size 64
    # What the sender printed.
    variable senderOut ""
    # Courier's receive buffer (SO_RCVBUF; Linux caps an unprivileged
    # request at net.core.rmem_max and doubles it for its bookkeeping);
    # COURIER_UDPBENCH_RECVBUFFER=0 leaves the kernel's default, as the
    # udp package has to.
    variable recvBuffer 4194304
    if {[info exists ::env(COURIER_UDPBENCH_RECVBUFFER)]} {
	set recvBuffer $::env(COURIER_UDPBENCH_RECVBUFFER)
    }
}

# ----------------------------------------------------------------------
# The sender.
# ----------------------------------------------------------------------

# usage: sender port rate seconds size
#	rate 0: as fast as it can; otherwise paced to rate datagrams/s.
#	Prints "sent N seconds mode" at the end (mode: how it sent, "gso" or
#	"sendmmsg"); stops early when stdin closes.
#
#	With UDP segmentation offload (Linux 4.18 and later: the UDP_SEGMENT
#	socket option), one message of a sendmmsg call carries up to SEGS
#	datagrams of `size` bytes that the kernel cuts apart: one trip through
#	the sending half of the stack for SEGS datagrams instead of one each,
#	so the sender offers several times more on the same CPU. What reaches
#	the receiving socket is the same: one datagram of `size` bytes each
#	(the receiver does not ask for UDP_GRO). Where the option or the first
#	such send fails, it sends one datagram per message as before.
set ::bench::udp::senderC {
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64		/* Messages per sendmmsg call. */
#define SEGS 64			/* Datagrams per message with UDP_SEGMENT. */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whether the parent closed our stdin (it has gone, or says stop). */
static int stdinClosed(void) {
    struct pollfd p = {0, POLLIN, 0};
    char c;
    return poll(&p, 1, 0) > 0 && read(0, &c, 1) <= 0;
}

static struct iovec iov[BATCH];
static struct mmsghdr msgs[BATCH];
static int segs = SEGS;

/* Sends up to `due` datagrams in one sendmmsg call; returns how many
 * went, or -1. */
static long long sendSome(int fd, int size, long long due) {
    int n, i;
    long long count = 0;
    for (n = 0; n < BATCH && due > 0; n++) {
	int k = due < segs ? (int) due : segs;
	iov[n].iov_len = (size_t) k * size;
	due -= k;
    }
    n = sendmmsg(fd, msgs, n, 0);
    if (n <= 0) {
	return -1;
    }
    for (i = 0; i < n; i++) {
	count += iov[i].iov_len / size;
    }
    return count;
}

int main(int argc, char **argv) {
    if (argc != 5) {
	fprintf(stderr, "usage: sender port rate seconds size\n");
	return 2;
    }
    int port = atoi(argv[1]);
    double rate = atof(argv[2]), seconds = atof(argv[3]);
    int size = atoi(argv[4]);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to;
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *) &to, sizeof(to)) < 0) {
	perror("sender");
	return 1;
    }
    if (size < 1 || setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &size,
	    sizeof(size)) < 0) {
	segs = 1;
    }
    char *buf = malloc((size_t) SEGS * (size > 0 ? size : 1));
    memset(buf, 'u', (size_t) SEGS * (size > 0 ? size : 1));
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < BATCH; i++) {
	iov[i].iov_base = buf;
	msgs[i].msg_hdr.msg_iov = &iov[i];
	msgs[i].msg_hdr.msg_iovlen = 1;
    }
    long long sent = 0;
    if (segs > 1) {		/* Is segmentation taken? Counted if so. */
	long long n = sendSome(fd, size, 2);
	if (n < 0) {
	    int off = 0;	/* No: one datagram per message. */
	    setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &off, sizeof(off));
	    segs = 1;
	} else {
	    sent = n;
	}
    }
    unsigned long turns = 0;
    double t0 = now(), t = t0;
    while (t - t0 < seconds) {
	long long due = rate > 0 ? (long long) (rate * (t - t0)) - sent
		: (long long) BATCH * segs;
	while (due > 0) {
	    long long n = sendSome(fd, size, due);
	    if (n < 0) {
		break;		/* ECONNREFUSED, ENOBUFS: try again later. */
	    }
	    sent += n;
	    due -= n;
	}
	if (rate > 0) {
	    struct timespec pause = {0, 50000};
	    nanosleep(&pause, NULL);
	}
	if ((rate > 0 || (++turns & 63) == 0) && stdinClosed()) {
	    break;
	}
	t = now();
    }
    printf("sent %lld %.6f %s\n", sent, now() - t0,
	    segs > 1 ? "gso" : "sendmmsg");
    return 0;
}
}

set ::bench::udp::senderPy {
import os, select, socket, sys, time
port, rate, seconds, size = int(sys.argv[1]), float(sys.argv[2]), \
    float(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", port))
data, send, sent, turns = b"u" * size, s.send, 0, 0
t0 = t = time.monotonic()
def stdin_closed():
    r = select.select([0], [], [], 0)[0]
    return bool(r) and not os.read(0, 1)
while t - t0 < seconds:
    due = int(rate * (t - t0)) - sent if rate > 0 else 256
    for i in range(max(due, 0)):
        try:
            send(data)
            sent += 1
        except OSError:
            break
    if rate > 0:
        time.sleep(0.00005)
    turns += 1
    if (rate > 0 or turns % 64 == 0) and stdin_closed():
        break
    t = time.monotonic()
print("sent %d %.6f python" % (sent, time.monotonic() - t0), flush=True)
}

# bench::udp::BuildSender --
#	Compiles the C sender into a fresh temporary directory (or writes
#	the Python one when there is no C compiler) and returns the command
#	prefix that runs it, and the directory to delete afterwards.
proc ::bench::udp::BuildSender {} {
    variable senderC
    variable senderPy
    set tmp [expr {[info exists ::env(TMPDIR)] ? $::env(TMPDIR) : "/tmp"}]
    set dir [file join $tmp courier-udpbench-[pid]]
    file mkdir $dir
    foreach cc {cc gcc clang} {
	if {[auto_execok $cc] eq ""} {
	    continue
	}
	set f [open [file join $dir sender.c] w]
	puts $f $senderC
	close $f
	if {![catch {exec $cc -O2 -o [file join $dir sender] \
		[file join $dir sender.c] 2>@1} msg]} {
	    return [list [list [file join $dir sender]] $dir "C ($cc)"]
	}
	puts "sender: $cc failed ($msg); trying Python"
	break
    }
    set py [auto_execok python3]
    if {$py eq ""} {
	file delete -force $dir
	return -code error "no C compiler and no python3 for the sender"
    }
    set f [open [file join $dir sender.py] w]
    puts $f $senderPy
    close $f
    return [list [list {*}$py [file join $dir sender.py]] $dir Python]
}

# ----------------------------------------------------------------------
# The child: one scenario in this process.
# ----------------------------------------------------------------------

# bench::udp::WarmUp ms --
#	Keeps the CPU busy before the clock starts (see inbox.tcl: a fresh
#	process on the reference VM runs its first few hundred ms slowly).
proc ::bench::udp::WarmUp {ms} {
    set end [expr {[clock milliseconds] + $ms}]
    while {[clock milliseconds] < $end} {}
}

# bench::udp::Status field --
#	A field of /proc/self/status in KiB (VmHWM), or -1.
proc ::bench::udp::Status {field} {
    if {[catch {open /proc/self/status} f]} {
	return -1
    }
    set status [read $f]
    close $f
    if {![regexp -line "^${field}:\\s+(\\d+)\\s+kB" $status -> kb]} {
	return -1
    }
    return $kb
}

# bench::udp::KernelDrops port --
#	The kernel's drop counter of the IPv4 UDP socket bound to this port
#	(the last column of /proc/net/udp), or -1. For the udp package's
#	socket, which has no such counter of its own.
proc ::bench::udp::KernelDrops {port} {
    if {[catch {open /proc/net/udp} f]} {
	return -1
    }
    set lines [split [read $f] \n]
    close $f
    foreach line [lrange $lines 1 end] {
	set fields [regexp -all -inline {\S+} $line]
	if {[llength $fields] < 13} {
	    continue
	}
	lassign [split [lindex $fields 1] :] addr hexport
	if {[scan $hexport %x] == $port} {
	    return [lindex $fields end]
	}
    }
    return -1
}

# bench::udp::CpuTimes pid --
#	Each thread of a process: tid -> {name user system}, in clock ticks
#	(/proc/PID/task/TID/stat, fields 14 and 15); empty where /proc is
#	not there.
proc ::bench::udp::CpuTimes {pid} {
    set times {}
    foreach dir [glob -nocomplain /proc/$pid/task/*] {
	if {[catch {
	    set f [open $dir/stat]
	    set stat [read $f]
	    close $f
	}]} {
	    continue
	}
	# The name, in parentheses, may hold spaces: the fields follow it.
	set open [string first ( $stat]
	set close [string last ) $stat]
	set name [string range $stat [expr {$open + 1}] [expr {$close - 1}]]
	set fields [string range $stat [expr {$close + 2}] end]
	dict set times [file tail $dir] [list $name [lindex $fields 11] \
		[lindex $fields 12]]
    }
    return $times
}

# bench::udp::CpuUse before after pid --
#	The CPU time each thread of process pid used between two CpuTimes
#	snapshots, by role: a dict role -> {seconds systemSeconds}. Roles:
#	"tcl" (the main thread, whose tid is the pid), "io" (Courier's I/O
#	threads), "notifier" (any other thread: Tcl's notifier) and "sender"
#	(a process of one thread).
proc ::bench::udp::CpuUse {before after pid} {
    set hz 100			;# USER_HZ: /proc counts in 1/100 s.
    set use {}
    dict for {tid now} $after {
	if {![dict exists $before $tid]} {
	    continue
	}
	lassign [dict get $before $tid] name user0 system0
	lassign $now name user1 system1
	if {[dict size $after] == 1} {
	    set role sender
	} elseif {$tid == $pid} {
	    set role tcl
	} elseif {[string match courier-io-* $name]} {
	    set role io
	} else {
	    set role notifier
	}
	set seconds [expr {double($user1 - $user0 + $system1 - $system0) / $hz}]
	set system [expr {double($system1 - $system0) / $hz}]
	if {[dict exists $use $role]} {
	    lassign [dict get $use $role] s0 y0
	    set seconds [expr {$seconds + $s0}]
	    set system [expr {$system + $y0}]
	}
	dict set use $role [list $seconds $system]
    }
    return $use
}

# The ticker: an `after 10` that records its largest gap, from the first
# delivery to the end. On a busy machine most of a long gap can be time
# the receiving thread spent runnable but waiting for a CPU, which no
# mechanism can help: the kernel counts it for the thread (the second
# field of /proc/self/task/TID/schedstat, in ns; the Tcl thread is the
# main thread, whose TID is the pid), so the probe also records the
# largest gap less that wait ("own gap"), or -1 where the file is absent.
proc ::bench::udp::StartProbe {} {
    variable probe
    set probe(gap) 0
    set probe(own) 0
    set probe(stat) ""
    catch {
	set probe(stat) [open /proc/self/task/[pid]/schedstat]
    }
    set probe(wait) [CpuWait]
    set probe(last) [clock microseconds]
    set probe(id) [after 10 ::bench::udp::Tick]
}
proc ::bench::udp::CpuWait {} {
    variable probe
    if {$probe(stat) eq ""} {
	return 0
    }
    seek $probe(stat) 0
    return [lindex [read $probe(stat)] 1]
}
proc ::bench::udp::Tick {} {
    variable probe
    set now [clock microseconds]
    set wait [CpuWait]
    set gap [expr {$now - $probe(last)}]
    if {$gap > $probe(gap)} {
	set probe(gap) $gap
    }
    set own [expr {$gap - ($wait - $probe(wait)) / 1000}]
    if {$own > $probe(own)} {
	set probe(own) $own
    }
    set probe(last) $now
    set probe(wait) $wait
    set probe(id) [after 10 ::bench::udp::Tick]
}

# bench::udp::StopProbe now --
#	Stops the ticker; returns {gap ownGap} in ms (-1 when it never
#	started; ownGap -1 without schedstat).
proc ::bench::udp::StopProbe {now} {
    variable probe
    if {![info exists probe(id)]} {
	return {-1 -1}
    }
    after cancel $probe(id)
    # The stretch from the last tick to the end counts as a gap too.
    set gap [expr {$now - $probe(last)}]
    set probe(gap) [expr {max($probe(gap), $gap)}]
    set probe(own) [expr {max($probe(own),
	    $gap - ([CpuWait] - $probe(wait)) / 1000)}]
    set own [expr {$probe(stat) eq "" ? -1 : $probe(own) / 1000.0}]
    catch {close $probe(stat)}
    return [list [expr {$probe(gap) / 1000.0}] $own]
}

# The callbacks under test. Each counts what it received in a namespace
# variable, as a callback keeps its state. The first delivery starts the
# clock and the ticker, then hands over to the counting callback, so that
# the callback under test does nothing but its work.
namespace eval ::bench::recv {
    variable n 0
}

# udp package: one `read` per readable event returns one datagram.
proc ::bench::recv::udpFirst {chan} {
    ::bench::udp::First
    fileevent $chan readable [list ::bench::recv::udpRead $chan]
    udpRead $chan
}
proc ::bench::recv::udpRead {chan} {
    variable n
    set data [read $chan]
    incr n
}

# courier: a proc per datagram ({*}cmd $u $data $host $port).
proc ::bench::recv::courierFirst {u data host port} {
    ::bench::udp::First
    $u configure -ondata ::bench::recv::courier
    courier $u $data $host $port
}
proc ::bench::recv::courier {u data host port} {
    variable n
    incr n
}

# courier -batch 1: a proc per burst, visiting every {data host port}.
proc ::bench::recv::batchFirst {u batch} {
    ::bench::udp::First
    $u configure -ondata ::bench::recv::batch
    batch $u $batch
}
proc ::bench::recv::batch {u batch} {
    variable n
    foreach item $batch {
	incr n
    }
}

proc ::bench::udp::First {} {
    variable window
    variable cpu0
    variable senderPid
    set ::t0 [clock microseconds]
    set cpu0 [list [CpuTimes [pid]] [CpuTimes $senderPid]]
    StartProbe
    if {$window > 0} {
	after $window {set ::bench::udp::state window}
    }
}

# bench::udp::Open mechanism --
#	The receiving socket on 127.0.0.1 (the udp package binds the
#	wildcard address; it has no option for the address). Returns
#	{handle port}.
proc ::bench::udp::Open {mechanism} {
    variable recvBuffer
    switch -- $mechanism {
	udp {
	    package require udp
	    set chan [udp_open]
	    fconfigure $chan -translation binary -buffering none
	    fileevent $chan readable [list ::bench::recv::udpFirst $chan]
	    return [list $chan [lindex [fconfigure $chan -myport] 0]]
	}
	courier - batch {
	    package require courier
	    set u [courier::udp -recvbuffer $recvBuffer \
		    -batch [expr {$mechanism eq "batch"}] \
		    -ondata ::bench::recv::${mechanism}First]
	    return [list $u [$u port]]
	}
    }
}

# bench::udp::Sender port rate seconds --
#	Starts the sender (the command in COURIER_UDPBENCH_SENDER) as a
#	pipeline open both ways; its "sent N seconds" line ends up in
#	::bench::udp::sent.
proc ::bench::udp::Sender {port rate seconds} {
    variable size
    set cmd [concat $::env(COURIER_UDPBENCH_SENDER) \
	    [list $port $rate $seconds $size 2>@1]]
    set chan [open |$cmd r+]
    set ::bench::udp::senderPid [lindex [pid $chan] 0]
    fconfigure $chan -blocking 0 -buffering line
    fileevent $chan readable [list ::bench::udp::SenderRead $chan]
    return $chan
}
proc ::bench::udp::SenderRead {chan} {
    variable senderOut
    while {[gets $chan line] >= 0} {
	append senderOut $line\n
	if {[string match "sent *" $line]} {
	    set ::bench::udp::sent [lrange $line 1 2]
	    set ::bench::udp::sendMode [lindex $line 3]
	}
    }
    if {[eof $chan]} {
	fileevent $chan readable {}
	set ::bench::udp::senderDone 1
	# A sender that ends before the window closed has failed.
	if {$::bench::udp::window > 0 && $::bench::udp::state eq "wait"} {
	    set ::bench::udp::state "sender ended early: $senderOut"
	}
    }
}

# bench::udp::StopSender chan --
#	Closes the sender's stdin (it stops at once), waits for its last
#	line and end, and returns {sent seconds}.
proc ::bench::udp::StopSender {chan} {
    variable senderOut
    catch {chan close $chan write}
    if {![info exists ::bench::udp::senderDone]} {
	set timer [after 5000 {set ::bench::udp::senderDone timeout}]
	vwait ::bench::udp::senderDone
	after cancel $timer
    }
    if {$::bench::udp::senderDone eq "timeout"} {
	catch {exec kill -KILL {*}[pid $chan]}
    }
    fconfigure $chan -blocking 1
    if {[catch {close $chan} msg]} {
	append senderOut $msg
    }
    if {![info exists ::bench::udp::sent]} {
	return -code error "the sender reported nothing: $senderOut"
    }
    return $::bench::udp::sent
}

# bench::udp::Rate mechanism seconds limit --
#	The rate scenario: the sender sends as fast as it can; count what
#	reaches the proc during `seconds` from the first delivery.
proc ::bench::udp::Rate {mechanism seconds limit} {
    variable window
    variable state
    set window [expr {int($seconds * 1000)}]
    lassign [Open $mechanism] h port
    WarmUp 200
    set state wait
    set deadline [after [expr {int($limit * 1000)}] \
	    {set ::bench::udp::state timeout}]
    # The sender runs a little longer than the window; it is stopped as
    # soon as the window closes.
    set sender [Sender $port 0 [expr {$seconds + 5}]]
    vwait ::bench::udp::state
    set t1 [clock microseconds]
    set n $::bench::recv::n
    # The CPU each thread used in the window: the receiving process's
    # and the sender's.
    variable cpu0
    variable senderPid
    lassign $cpu0 self0 sender0
    set cpu [dict merge [CpuUse $self0 [CpuTimes [pid]] [pid]] \
	    [CpuUse $sender0 [CpuTimes $senderPid] $senderPid]]
    lassign [StopProbe $t1] gap own
    after cancel $deadline
    if {$state ne "window"} {
	catch {StopSender $sender}
	return -code error "rate $mechanism: $state after $n datagrams"
    }
    # Stop the sender first, so that its average rate is that of the
    # window (plus its start, a few ms before the first delivery).
    lassign [StopSender $sender] sent sendSeconds
    if {$mechanism eq "udp"} {
	fileevent $h readable {}
	set drops [KernelDrops $port]
	close $h
    } else {
	set drops [dict get [$h info] kernelDrops]
	$h close
    }
    set elapsed [expr {($t1 - $::t0) / 1e6}]
    return [dict create scenario rate-$mechanism n $n seconds $elapsed \
	    rate [expr {$n / $elapsed}] tickGapMs $gap ownGapMs $own \
	    sent $sent offered [expr {$sent / $sendSeconds}] \
	    kernelDrops $drops peakRssMiB [expr {[Status VmHWM] / 1024.0}] \
	    cpu $cpu]
}

# bench::udp::Loss mechanism rate seconds limit --
#	The loss scenario: a paced sender offers `rate` datagrams/s for
#	`seconds`; count everything delivered until the sender has finished
#	and nothing more arrived for 200 ms.
proc ::bench::udp::Loss {mechanism rate seconds limit} {
    variable window 0
    variable state
    lassign [Open $mechanism] h port
    WarmUp 200
    set ::t0 0
    set state wait
    set deadline [after [expr {int($limit * 1000)}] {
	set ::bench::udp::state timeout
	set ::bench::udp::senderDone timeout
    }]
    set sender [Sender $port $rate $seconds]
    vwait ::bench::udp::senderDone
    # Drain: until 200 ms pass without a delivery (or the deadline).
    set last -1
    while {$state eq "wait" && $last != $::bench::recv::n} {
	set last $::bench::recv::n
	after 200 {set ::bench::udp::state wait}
	vwait ::bench::udp::state
    }
    set t1 [clock microseconds]
    set n $::bench::recv::n
    lassign [StopProbe $t1] gap own
    after cancel $deadline
    if {$state ne "wait"} {
	return -code error "loss $mechanism $rate: $state after $n datagrams"
    }
    if {$mechanism eq "udp"} {
	fileevent $h readable {}
	set drops [KernelDrops $port]
	close $h
    } else {
	set drops [dict get [$h info] kernelDrops]
	$h close
    }
    lassign [StopSender $sender] sent sendSeconds
    return [dict create scenario loss-$mechanism n $n sent $sent \
	    fraction [expr {$sent ? double($n) / $sent : 0.0}] \
	    offered [expr {$sent / $sendSeconds}] kernelDrops $drops \
	    accounted [expr {$n + $drops == $sent}] \
	    tickGapMs $gap ownGapMs $own peakRssMiB [expr {[Status VmHWM] / 1024.0}]]
}

# bench::udp::Alone seconds --
#	The sender's own ceiling: what it offers in `seconds` to a socket
#	that nobody reads (the kernel drops what the buffer cannot hold).
proc ::bench::udp::Alone {seconds} {
    package require udp
    set chan [udp_open]
    set port [lindex [fconfigure $chan -myport] 0]
    set sender [Sender $port 0 $seconds]
    vwait ::bench::udp::senderDone
    lassign [StopSender $sender] sent sendSeconds
    close $chan
    return [dict create scenario alone sent $sent \
	    offered [expr {$sent / $sendSeconds}] mode $::bench::udp::sendMode]
}

# bench::udp::child scenario args --
#	The main of a child: run one scenario, print its result line.
proc ::bench::udp::child {scenario args} {
    variable scenarios
    if {$scenario eq "alone"} {
	puts [list result [Alone [lindex $args 0]]]
	return
    }
    foreach {key group mechanism rate label} $scenarios {
	if {$key ne $scenario} {
	    continue
	}
	lassign $args seconds limit
	if {$group eq "rate"} {
	    set r [Rate $mechanism $seconds $limit]
	} else {
	    set r [Loss $mechanism $rate $seconds $limit]
	}
	puts [list result $r]
	return
    }
    return -code error "usage: udp.tcl scenario seconds limit, scenario\
	    one of: [lmap {k g m r l} $scenarios {set k}]"
}

# ----------------------------------------------------------------------
# The driver side.
# ----------------------------------------------------------------------

# bench::udp::run --
#	Called by run.tcl: builds the sender, runs every scenario in its own
#	tclsh (rate scenarios -repeat rounds, loss scenarios at most 3, as
#	they take 5 s each), keeps the medians, prints the tables, ratios
#	and targets, and writes bench/results/udp.csv.
proc ::bench::udp::run {} {
    variable scenarios
    variable script
    variable recvBuffer
    lassign [BuildSender] sender tmpdir kind
    set ::env(COURIER_UDPBENCH_SENDER) $sender
    try {
	return [Run $kind]
    } finally {
	unset ::env(COURIER_UDPBENCH_SENDER)
	file delete -force $tmpdir
    }
}

proc ::bench::udp::Run {senderKind} {
    variable scenarios
    variable script
    variable recvBuffer
    variable size
    set limit [expr {max(10, $::bench::timeout - 10)}]
    if {$::bench::quick} {
	set window 1
	set lossSeconds 1
	set lossRounds 1
    } else {
	set window 2
	set lossSeconds 5
	set lossRounds [expr {min($::bench::repeat, 3)}]
    }
    set rmem ?
    catch {
	set f [open /proc/sys/net/core/rmem_default]
	set rmem [string trim [read $f]]
	close $f
    }
    puts "$size-byte datagrams from a $senderKind sender process to\
	    127.0.0.1; each scenario in its own tclsh"
    puts "receive buffer: courier -recvbuffer $recvBuffer\
	    (0: the kernel's default); the udp package has no option for\
	    it: the kernel's default (net.core.rmem_default $rmem)"
    set load0 [::bench::loadAverage]
    if {[catch {::bench::child $script alone 1 $limit} r]} {
	puts "the sender alone: $r"
    } else {
	puts [format "the sender alone (nobody reading) offers %.0f\
		datagrams/s, sending %s" [dict get $r offered] \
		[dict get {
		    gso "64 datagrams per message (UDP_SEGMENT)"
		    sendmmsg "one datagram per message (sendmmsg)"
		    python "one datagram per call"
		} [dict get $r mode]]]
    }
    array set runs {}
    set failures {}
    for {set round 0} {$round < $::bench::repeat} {incr round} {
	foreach {key group mechanism rate label} $scenarios {
	    if {$group eq "loss" && $round >= $lossRounds} {
		continue
	    }
	    set seconds [expr {$group eq "rate" ? $window : $lossSeconds}]
	    if {[catch {::bench::child $script $key $seconds $limit} r]} {
		lappend failures $key $r
		continue
	    }
	    lappend runs($key) $r
	}
    }
    # Each scenario's median run (by rate or delivered fraction); its
    # tick gaps are the medians of the rounds' largest gaps, since one
    # descheduling of the receiving process on a busy machine makes one
    # round's figure.
    set results {}
    foreach {key group mechanism rate label} $scenarios {
	if {[info exists runs($key)]} {
	    set r [::bench::median $runs($key) \
		    [expr {$group eq "rate" ? "rate" : "fraction"}]]
	    foreach field {tickGapMs ownGapMs} {
		dict set r $field [dict get \
			[::bench::median $runs($key) $field] $field]
	    }
	    dict set results $key $r
	}
    }
    set rows [Rows $results]
    Tables $rows $window $lossSeconds $lossRounds
    puts "\nload average (1 min): $load0 before, [::bench::loadAverage] after"
    Spread [array get runs]
    # Every datagram sent either reached the proc or was counted by the
    # kernel as dropped for the socket: neither mechanism loses any of
    # its own.
    set lossRuns 0
    set accounted 0
    foreach {key group mechanism rate label} $scenarios {
	if {$group eq "loss" && [info exists runs($key)]} {
	    foreach r $runs($key) {
		incr lossRuns
		incr accounted [dict get $r accounted]
	    }
	}
    }
    puts "\nloss runs where sent = delivered + kernel drops: $accounted\
	    of $lossRuns"
    foreach {key r} $failures {
	puts "\n$key FAILED: $r"
    }
    Targets $results
    ::bench::saveResults udp.csv {key group scenario metric value unit
	vs_udp_package tick_gap_ms offered_per_s sent delivered
	kernel_drops peak_rss_mib tick_gap_less_cpu_wait_ms
	receiver_cpu_us_per_datagram tcl_thread_us io_thread_us
	io_thread_kernel_us notifier_thread_us sender_cpus
	receiver_cpus} $rows \
	[expr {[dict size $results] == [llength $scenarios] / 5}]
    ::bench::failIfAny $failures
}

# bench::udp::Rows results --
#	One row per scenario, the CSV's columns: key group label metric
#	value unit vsUdp tickGap offered sent delivered kernelDrops peakRss
#	ownGap.
#	vsUdp is the ratio to the udp package's row of the same group and
#	offered rate.
proc ::bench::udp::Rows {results} {
    variable scenarios
    set rows {}
    foreach {key group mechanism rate label} $scenarios {
	if {![dict exists $results $key]} {
	    continue
	}
	set r [dict get $results $key]
	set base [regsub {[a-z]+$} $key udp]
	set field [expr {$group eq "rate" ? "rate" : "fraction"}]
	set vs ""
	if {[dict exists $results $base $field]
		&& [dict get $results $base $field] > 0} {
	    set vs [format %.3f [expr {[dict get $r $field]
		    / double([dict get $results $base $field])}]]
	}
	if {$group eq "rate"} {
	    set metric delivered_per_s
	    set value [format %.0f [dict get $r rate]]
	    set unit datagrams/s
	} else {
	    set metric delivered_fraction
	    set value [format %.4f [dict get $r fraction]]
	    set unit fraction
	}
	# Rate rows: the CPU time of each thread per datagram delivered
	# (us), the receiving process's in all, and the sender's share of
	# a CPU over the window.
	set cpu [lrepeat 7 ""]
	if {[dict exists $r cpu]} {
	    set use [dict get $r cpu]
	    set n [dict get $r n]
	    set perDatagram {apply {{use role n} {
		if {![dict exists $use $role] || $n <= 0} {
		    return 0.000
		}
		format %.3f [expr {[lindex [dict get $use $role] 0] * 1e6 / $n}]
	    }}}
	    set tcl [{*}$perDatagram $use tcl $n]
	    set io [{*}$perDatagram $use io $n]
	    set notifier [{*}$perDatagram $use notifier $n]
	    set ioSystem [format %.3f [expr {[dict exists $use io] && $n > 0
		    ? [lindex [dict get $use io] 1] * 1e6 / $n : 0}]]
	    set window [dict get $r seconds]
	    set sender [expr {[dict exists $use sender]
		    ? [format %.2f [expr {[lindex [dict get $use sender] 0]
			/ $window}]] : ""}]
	    set cpu [list [format %.3f [expr {$tcl + $io + $notifier}]] \
		    $tcl $io $ioSystem $notifier $sender \
		    [format %.2f [expr {($tcl + $io + $notifier) * $n / 1e6
			/ $window}]]]
	}
	lappend rows [list $key $group $label $metric $value $unit $vs \
		[format %.1f [dict get $r tickGapMs]] \
		[format %.0f [dict get $r offered]] [dict get $r sent] \
		[dict get $r n] [dict get $r kernelDrops] \
		[format %.1f [dict get $r peakRssMiB]] \
		[format %.1f [dict get $r ownGapMs]] {*}$cpu]
    }
    return $rows
}

# bench::udp::Tables --
proc ::bench::udp::Tables {rows window lossSeconds lossRounds} {
    set x {apply {{v} {expr {$v eq "" ? "-" : [format %.2fx $v]}}}}
    set rate {}
    set cpu {}
    set loss {}
    foreach row $rows {
	lassign $row key group label metric value unit vs gap offered sent \
		n drops peak own recvUs tclUs ioUs ioSystemUs notifierUs \
		senderShare recvShare
	if {$group eq "rate"} {
	    lappend rate [list $label $value [{*}$x $vs] $gap $own $offered \
		    [format %.0f%% [expr {100.0 * $value / $offered}]] $peak]
	    if {$recvUs ne ""} {
		lappend cpu [list $label $recvUs $tclUs $ioUs $ioSystemUs \
			$notifierUs $recvShare $senderShare]
	    }
	} else {
	    lappend loss [list $label [format %.1f%% [expr {$value * 100}]] \
		    [{*}$x $vs] $offered $sent $n $drops $gap $own]
	}
    }
    if {[llength $rate]} {
	puts "\nrate: datagrams delivered into a Tcl proc in ${window} s\
		from the first one, the sender sending as fast as it can\
		($::bench::repeat rounds)"
	::bench::table {scenario delivered/s "vs udp pkg" "tick gap ms"
	    "less CPU wait" "offered/s" "of offered" "peak RSS MiB"} $rate
    }
    if {[llength $cpu]} {
	puts "\nCPU time per datagram delivered in the same runs (us; from\
		/proc/PID/task/TID/stat), and in CPUs over the window"
	::bench::table {scenario "receiver us" "Tcl thread" "I/O thread"
	    "of it kernel" "notifier" "receiver CPUs" "sender CPUs"} $cpu
    }
    if {[llength $loss]} {
	puts "\nloss: a paced sender for $lossSeconds s, everything delivered\
		counted ($lossRounds rounds)"
	::bench::table {scenario delivered "vs udp pkg" "offered/s" sent
	    delivered "kernel drops" "tick gap ms" "less CPU wait"} $loss
    }
}

# bench::udp::Spread --
#	Each scenario's figure over the rounds (min .. max).
proc ::bench::udp::Spread {runs} {
    variable scenarios
    puts "\nover the rounds (min .. max):"
    foreach {key group mechanism rate label} $scenarios {
	if {![dict exists $runs $key]} {
	    continue
	}
	set field [expr {$group eq "rate" ? "rate" : "fraction"}]
	set v [lsort -real [lmap r [dict get $runs $key] {
	    dict get $r $field
	}]]
	set g [lsort -real [lmap r [dict get $runs $key] {
	    dict get $r tickGapMs
	}]]
	puts [format "  %-42s %-9s %12.3f .. %-12.3f tick gap %.1f .. %.1f ms" \
		$label $field [lindex $v 0] [lindex $v end] [lindex $g 0] \
		[lindex $g end]]
    }
}

# bench::udp::Targets --
#	The issue's targets, met or MISSED, with the figures.
proc ::bench::udp::Targets {results} {
    variable targets
    puts "\ntargets of the issue:"
    set verdicts {}
    foreach {key target} [list rate-courier [dict get $targets ratio] \
	    rate-batch [dict get $targets batchRatio]] {
	set what "[dict get {rate-courier "courier, proc per datagram"
	    rate-batch "courier -batch 1"} $key] >= ${target}x udp package"
	if {![dict exists $results $key] || ![dict exists $results rate-udp]} {
	    lappend verdicts [Verdict $what 0 "no result"]
	    continue
	}
	set v [expr {[dict get $results $key rate]
		/ double([dict get $results rate-udp rate])}]
	lappend verdicts [Verdict $what [expr {$v >= $target}] \
		[format %.2fx $v]]
    }
    set max [dict get $targets tickGapMs]
    foreach key {rate-courier rate-batch} {
	if {![dict exists $results $key]} {
	    continue
	}
	set g [dict get $results $key tickGapMs]
	set o [dict get $results $key ownGapMs]
	set u [expr {[dict exists $results rate-udp]
		? [dict get $results rate-udp tickGapMs] : "?"}]
	lappend verdicts [Verdict "$key after-10 gap <= $max ms" \
		[expr {$g <= $max}] "median $g ms, less CPU wait $o ms;\
		udp package $u ms"]
    }
    puts "targets: [llength [lsearch -all $verdicts 1]] of\
	    [llength $verdicts] met"
}
proc ::bench::udp::Verdict {what met figure} {
    puts [format "  %-42s %-6s (%s)" $what [expr {$met ? "met" : "MISSED"}] \
	    $figure]
    return $met
}

# Run as a script: be the child.
if {[info exists ::argv0]
	&& [file normalize $::argv0] eq $::bench::udp::script} {
    ::bench::udp::child {*}$::argv
    exit 0
}
