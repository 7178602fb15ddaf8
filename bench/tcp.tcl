# tcp.tcl --
#
#	Courier's TCP engine side by side with Tcl's own sockets, the peer
#	always in a process of its own:
#	  lines    lines/s into a Tcl callback: courier -framing line with a
#		   proc called per line, and -batch 1 with a proc called per
#		   read, against a Tcl socket whose fileevent handler runs a
#		   `gets` loop that calls no proc per line;
#	  bulk	   MB/s into Tcl: courier -framing raw against `read` of 64 KiB
#		   chunks from a binary Tcl channel;
#	  latency  ping-pong of 64-byte lines, p50 and p99 round trip;
#	  conns	   many concurrent connections, courier on both sides: setup
#		   rate, resident memory per idle connection, echo throughput.
#	The lines and bulk scenarios also record the largest gap of an
#	`after 10` ticker while data arrives at full speed.
#
#	The file has three roles:
#	  - sourced by run.tcl, it defines ::bench::tcp::run, which starts
#	    one child per scenario and prints the tables;
#	  - run as `tclsh tcp.tcl scenario ?args?`, it is that child: it runs
#	    one scenario and prints "result <dict>";
#	  - run as `tclsh tcp.tcl peer-... ?args?`, it is a peer process that
#	    a child starts: the sender, the echo server, the other side of the
#	    connections scenario.
#	Every process it starts ends on its own: counts are bounded, every
#	wait has a deadline, and each helper process exits when its standard
#	input (a pipe from the process that started it) closes.

namespace eval ::bench::tcp {
    variable script [file normalize [info script]]
    # key group label
    variable scenarios {
	lines-tcl   lines   "Tcl socket, gets loop (no proc per line)"
	lines-msg   lines   "courier line, proc per line"
	lines-batch lines   "courier line -batch 1, proc per read"
	bulk-tcl    bulk    "Tcl read 64 KiB chunks, binary"
	bulk-raw    bulk    "courier raw, proc per chunk"
	lat-tcl     latency "Tcl client <-> Tcl echo"
	lat-courier latency "courier client <-> courier echo"
	lat-mixed   latency "courier client <-> Tcl echo"
	lat-co      latency "courier::co client <-> courier echo"
	conns       conns   "courier <-> courier"
    }
    # The issue's targets.
    variable targets {
	lineRatio 1.0 batchRatio 3.0 bulkRatio 1.5 p50Ratio 1.5 rssKiB 8.0
    }
    # Line scenarios: 20-byte lines (19 characters and LF).
    variable line "0123456789abcdefghi"
    # Latency: 63 characters and LF, 64 bytes on the wire.
    variable ping [string repeat "p" 63]
    variable warmupTrips 1000
}

# ----------------------------------------------------------------------
# Shared helpers (children and peers).
# ----------------------------------------------------------------------

# bench::tcp::Status field --
#	A field of /proc/self/status in KiB (VmRSS, VmHWM), or -1.
proc ::bench::tcp::Status {field} {
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

# bench::tcp::WarmUp ms --
#	Keeps the CPU busy before the clock starts (see inbox.tcl: a fresh
#	process on the reference VM runs its first few hundred ms slowly).
proc ::bench::tcp::WarmUp {ms} {
    set end [expr {[clock milliseconds] + $ms}]
    while {[clock milliseconds] < $end} {}
}

# bench::tcp::Watchdog seconds --
#	A helper process's hard limit: whatever it waits for, it exits with
#	status 3 after this long (as long as its event loop runs), and at
#	once when its standard input closes, i.e. when the process that
#	started it has gone.
proc ::bench::tcp::Watchdog {seconds} {
    after [expr {int($seconds * 1000)}] {
	puts stderr "[lindex $::argv 0]: watchdog: still running after\
		[lindex $::argv end] s, giving up"
	exit 3
    }
    fconfigure stdin -blocking 0
    fileevent stdin readable ::bench::tcp::StdinReadable
}
proc ::bench::tcp::StdinReadable {} {
    variable commands
    if {[gets stdin cmd] >= 0} {
	lappend commands $cmd
	set ::bench::tcp::command $cmd
	return
    }
    if {[eof stdin]} {
	exit 4
    }
}

# bench::tcp::Spawn args --
#	Starts `tclsh tcp.tcl args` (or, with -ulimit n first, the same
#	through sh with the open-file limit raised) as a pipeline open for
#	reading and writing; its stderr joins its stdout.
proc ::bench::tcp::Spawn {args} {
    variable script
    set tclsh [info nameofexecutable]
    if {[lindex $args 0] eq "-ulimit"} {
	set args [lassign $args - n]
	# Raise the soft limit as far as allowed; the child checks that it
	# got enough.
	set cmd [list sh -c "ulimit -n $n 2>/dev/null\
		|| ulimit -n \$(ulimit -Hn); exec \"\$0\" \"\$@\"" \
		$tclsh $script {*}$args]
    } else {
	set cmd [list $tclsh $script {*}$args]
    }
    set chan [open |[concat $cmd [list 2>@1]] r+]
    fconfigure $chan -blocking 0 -buffering line
    return $chan
}

# bench::tcp::Expect chan pattern seconds --
#	Waits (in the event loop) for a line from a spawned process that
#	matches the glob pattern and returns it. A process that ends, or
#	prints nothing matching in time, is an error that carries all it
#	printed.
proc ::bench::tcp::Expect {chan pattern seconds} {
    variable expect
    set expect($chan) {}
    set expect($chan,state) wait
    fileevent $chan readable [list ::bench::tcp::ExpectRead $chan $pattern]
    set timer [after [expr {int($seconds * 1000)}] \
	    [list set ::bench::tcp::expect($chan,state) timeout]]
    ExpectRead $chan $pattern
    if {$expect($chan,state) eq "wait"} {
	vwait ::bench::tcp::expect($chan,state)
    }
    after cancel $timer
    fileevent $chan readable {}
    set state $expect($chan,state)
    set out $expect($chan)
    unset expect($chan) expect($chan,state)
    switch -- $state {
	found { return [lindex $out end] }
	timeout {
	    return -code error "no \"$pattern\" after $seconds s from\
		    \[[pid $chan]\]; it printed:\n[join $out \n]"
	}
	default {
	    return -code error "process \[[pid $chan]\] ended without\
		    \"$pattern\"; it printed:\n[join $out \n]"
	}
    }
}
proc ::bench::tcp::ExpectRead {chan pattern} {
    variable expect
    while {[gets $chan line] >= 0} {
	lappend expect($chan) $line
	if {[string match $pattern $line]} {
	    set expect($chan,state) found
	    return
	}
    }
    if {[eof $chan]} {
	set expect($chan,state) eof
    }
}

# bench::tcp::Reap chan seconds --
#	Ends a spawned process's pipeline: closes its stdin (the process
#	exits on that), waits for its end of file, kills it (by its pid
#	only) if it has not ended in time, and returns what it printed.
proc ::bench::tcp::Reap {chan seconds} {
    variable reap
    set reap($chan) ""
    catch {chan close $chan write}
    fileevent $chan readable [list ::bench::tcp::ReapRead $chan]
    set timer [after [expr {int($seconds * 1000)}] \
	    [list set ::bench::tcp::reap($chan,done) timeout]]
    if {![info exists reap($chan,done)]} {
	vwait ::bench::tcp::reap($chan,done)
    }
    after cancel $timer
    if {$reap($chan,done) eq "timeout"} {
	catch {exec kill -KILL {*}[pid $chan]}
    }
    fileevent $chan readable {}
    fconfigure $chan -blocking 1
    catch {close $chan}
    set out $reap($chan)
    unset -nocomplain reap($chan) reap($chan,done)
    return $out
}
proc ::bench::tcp::ReapRead {chan} {
    variable reap
    append reap($chan) [read $chan]
    if {[eof $chan]} {
	set reap($chan,done) eof
    }
}

# ----------------------------------------------------------------------
# Probes: the receiving thread's pulse.
# ----------------------------------------------------------------------

# An `after 10` ticker that records its largest gap, from the moment the
# first data arrives until the last message has been delivered.
proc ::bench::tcp::StartProbe {} {
    variable probe
    set probe(last) [clock microseconds]
    set probe(gap) 0
    set probe(id) [after 10 ::bench::tcp::Tick]
}
proc ::bench::tcp::Tick {} {
    variable probe
    set now [clock microseconds]
    if {$now - $probe(last) > $probe(gap)} {
	set probe(gap) [expr {$now - $probe(last)}]
    }
    set probe(last) $now
    set probe(id) [after 10 ::bench::tcp::Tick]
}
proc ::bench::tcp::StopProbe {now} {
    variable probe
    if {![info exists probe(id)]} {
	return -1
    }
    after cancel $probe(id)
    if {$now - $probe(last) > $probe(gap)} {
	set probe(gap) [expr {$now - $probe(last)}]
    }
    return [expr {$probe(gap) / 1000.0}]
}

# ----------------------------------------------------------------------
# Peers: the sender of the lines and bulk scenarios.
# ----------------------------------------------------------------------

# bench::tcp::PeerSend kind count port limit --
#	Prepares everything it will send before it says "ready", waits for
#	"go" on stdin, then connects to 127.0.0.1:port and writes it all on
#	a blocking socket: lines as one `puts -nonewline` of a prepared
#	buffer, bulk as 1 MiB chunks. A receiver that dies makes the write
#	fail (EPIPE), so this never outlives it for long.
proc ::bench::tcp::PeerSend {kind count port limit} {
    variable line
    switch -- $kind {
	lines {
	    set data [string repeat "$line\n" $count]
	    set chunks 1
	}
	bulk {
	    # count is in MiB.
	    set data [string repeat "\x00\x01\x02\x03\xfc\xfd\xfe\xff" \
		    [expr {1024 * 1024 / 8}]]
	    set data [encoding convertto iso8859-1 $data]
	    set chunks $count
	}
    }
    puts ready
    flush stdout
    if {[gets stdin cmd] < 0 || $cmd ne "go"} {
	exit 4
    }
    set s [socket 127.0.0.1 $port]
    fconfigure $s -translation binary -buffering full -buffersize 1048576
    set t0 [clock microseconds]
    for {set i 0} {$i < $chunks} {incr i} {
	puts -nonewline $s $data
    }
    flush $s
    set t1 [clock microseconds]
    close $s
    puts [list sent [expr {$chunks * [string length $data]}] \
	    [expr {($t1 - $t0) / 1e6}]]
}

# ----------------------------------------------------------------------
# Peers: echo servers for the latency scenarios.
# ----------------------------------------------------------------------

# bench::tcp::PeerEchoTcl limit --
#	A Tcl socket server that echoes every line of its one client and
#	exits when the client goes.
proc ::bench::tcp::PeerEchoTcl {limit} {
    Watchdog $limit
    set srv [socket -server ::bench::tcp::EchoAccept -myaddr 127.0.0.1 0]
    puts "port [lindex [fconfigure $srv -sockname] 2]"
    flush stdout
    vwait forever
}
proc ::bench::tcp::EchoAccept {chan host port} {
    fconfigure $chan -blocking 0 -buffering line -translation lf \
	    -encoding utf-8
    fileevent $chan readable [list ::bench::tcp::EchoLine $chan]
}
proc ::bench::tcp::EchoLine {chan} {
    while {[gets $chan line] >= 0} {
	puts $chan $line
    }
    if {[eof $chan]} {
	close $chan
	exit 0
    }
}

# bench::tcp::SetSpin --
#	courier::configure -iospin and -inboxspin from COURIER_BENCH_IOSPIN
#	and COURIER_BENCH_INBOXSPIN, when set (to compare the latency with
#	and without the spins).
proc ::bench::tcp::SetSpin {} {
    if {[info exists ::env(COURIER_BENCH_IOSPIN)]} {
	courier::configure -iospin $::env(COURIER_BENCH_IOSPIN)
    }
    if {[info exists ::env(COURIER_BENCH_INBOXSPIN)]} {
	courier::configure -inboxspin $::env(COURIER_BENCH_INBOXSPIN)
    }
}

# bench::tcp::PeerEchoCourier limit --
#	The same with courier: line framing, each line sent back.
proc ::bench::tcp::PeerEchoCourier {limit} {
    package require courier
    SetSpin
    Watchdog $limit
    set srv [courier::listen 0 -framing line \
	    -ondata ::bench::tcp::EchoMessage \
	    -onclose {apply {{c reason} { exit 0 }}}]
    puts "port [$srv port]"
    flush stdout
    vwait forever
}
proc ::bench::tcp::EchoMessage {c m} {
    $c send $m
}

# ----------------------------------------------------------------------
# The lines and bulk scenarios (the receiving child).
# ----------------------------------------------------------------------

# The callbacks under test, at global level where fileevent and courier
# call them. Each counts what it received; the one that completes the
# count stamps the time and sets ::done.

# Tcl, lines: one fileevent call reads every complete line buffered; the
# loop calls no proc per line.
proc ::TclLines {chan} {
    if {!$::t0} {
	set ::t0 [clock microseconds]
	::bench::tcp::StartProbe
    }
    set n $::n
    while {[gets $chan line] >= 0} {
	incr n
    }
    set ::n $n
    if {$n >= $::N} {
	set ::t1 [clock microseconds]
	set ::done 1
    } elseif {[eof $chan]} {
	set ::done eof
    }
}

# Tcl, bulk: one `read` of up to 64 KiB per readable event.
proc ::TclBulk {chan} {
    if {!$::t0} {
	set ::t0 [clock microseconds]
	::bench::tcp::StartProbe
    }
    set data [read $chan 65536]
    if {[incr ::n [string length $data]] >= $::N} {
	set ::t1 [clock microseconds]
	set ::done 1
    } elseif {[eof $chan]} {
	set ::done eof
    }
}

# Courier: the first delivery stamps the start and switches -ondata to
# the callback under test, so that callback does nothing but its work.
proc ::CourierFirst {cb c msg} {
    set ::t0 [clock microseconds]
    ::bench::tcp::StartProbe
    $c configure -ondata $cb
    $cb $c $msg
}

# Courier, lines, per message: a proc call per line that counts it, in a
# namespace variable as a callback keeps its state (the Tcl loop counts in
# a local). The end is the peer's close: -onclose comes after the last
# line, as the Tcl loop's end is its count.
namespace eval ::bench::lines {
    variable n 0
}
proc ::bench::lines::count {c line} {
    variable n
    incr n
}
proc ::CourierLinesClosed {c reason} {
    set ::t1 [clock microseconds]
    set ::n $::bench::lines::n
    if {$::done eq "0"} {
	set ::done [expr {$::n >= $::N ? 1 : [list closed $reason]}]
    }
}

# Courier, lines, batch: a proc call per read; it visits every line, as
# the Tcl gets loop does.
proc ::CourierBatch {c lines} {
    set n $::n
    foreach line $lines {
	incr n
    }
    set ::n $n
    if {$n >= $::N} {
	set ::t1 [clock microseconds]
	set ::done 1
    }
}

# Courier, bulk: a proc call per chunk.
proc ::CourierRaw {c data} {
    if {[incr ::n [string length $data]] >= $::N} {
	set ::t1 [clock microseconds]
	set ::done 1
    }
}

proc ::CourierClosed {c reason} {
    if {$::done eq "0"} {
	set ::done [list closed $reason]
	set ::connected 0
    }
}

proc ::bench::tcp::TclAccept {kind chan host port} {
    if {$kind eq "lines"} {
	fconfigure $chan -blocking 0 -translation auto -encoding utf-8 \
		-buffersize 65536
	fileevent $chan readable [list ::TclLines $chan]
    } else {
	fconfigure $chan -blocking 0 -translation binary -buffersize 65536
	fileevent $chan readable [list ::TclBulk $chan]
    }
}

# bench::tcp::Receive scenario count limit --
#	The child of a lines or bulk scenario: listens, starts the sender,
#	warms up while the sender prepares, lets it go and counts until
#	the last line (or byte) has reached the callback.
proc ::bench::tcp::Receive {scenario count limit} {
    variable line
    lassign [split $scenario -] kind how
    if {$kind eq "lines"} {
	set ::N $count
	set total [expr {$count * ([string length $line] + 1)}]
    } else {
	set ::N [expr {$count * 1024 * 1024}]
	set total $::N
    }
    set ::n 0
    set ::t0 0
    set ::done 0
    switch -- $how {
	tcl {
	    set srv [socket -server [list ::bench::tcp::TclAccept $kind] \
		    -myaddr 127.0.0.1 0]
	    set port [lindex [fconfigure $srv -sockname] 2]
	}
	msg - batch - raw {
	    package require courier
	    set opts [dict get {
		msg   {-framing line -ondata {::CourierFirst ::bench::lines::count}
		       -onclose ::CourierLinesClosed}
		batch {-framing line -batch 1
		       -ondata {::CourierFirst ::CourierBatch}}
		raw   {-framing raw -ondata {::CourierFirst ::CourierRaw}}
	    } $how]
	    set srv [courier::listen 0 -onclose ::CourierClosed {*}$opts]
	    set port [$srv port]
	}
    }
    set rss0 [Status VmRSS]
    set peer [Spawn peer-send $kind $count $port $limit]
    Expect $peer ready $limit
    WarmUp 500
    set watchdog [after [expr {int($limit * 1000)}] {set ::done timeout}]
    puts $peer go
    vwait ::done
    after cancel $watchdog
    set gap [StopProbe $::t1]
    if {$::done ne "1"} {
	set out [Reap $peer 5]
	return -code error "$scenario: stopped ($::done) after $::n of\
		$::N [expr {$kind eq "lines" ? "lines" : "bytes"}];\
		sender printed: $out"
    }
    set out [Reap $peer 10]
    set seconds [expr {($::t1 - $::t0) / 1e6}]
    set result [dict create scenario $scenario count $count \
	    seconds $seconds delivered $::n tickGapMs $gap \
	    peakRssMiB [expr {[Status VmHWM] / 1024.0}] \
	    rssMiB0 [expr {$rss0 / 1024.0}]]
    if {$kind eq "lines"} {
	dict set result rate [expr {$::N / $seconds}]
    } else {
	dict set result rate [expr {$total / $seconds / 1e6}]
    }
    if {[regexp {sent (\d+) ([\d.]+)} $out -> bytes secs]} {
	dict set result peerBytes $bytes
	dict set result peerSeconds $secs
    }
    return $result
}

# ----------------------------------------------------------------------
# The latency scenarios (the client child).
# ----------------------------------------------------------------------

proc ::TclPong {chan} {
    while {[gets $chan line] >= 0} {
	::Pong $line
    }
    if {[eof $chan] && $::done eq "0"} {
	set ::done eof
    }
}
proc ::CourierPong {c line} {
    ::Pong $line
}
# Pong --
#	A reply came back: record the round trip, send the next ping.
proc ::Pong {line} {
    set now [clock microseconds]
    if {[incr ::n] > $::warmup} {
	lappend ::rtts [expr {$now - $::sent}]
    }
    if {$::n >= $::N} {
	set ::done 1
	return
    }
    set ::sent [clock microseconds]
    {*}$::send $::ping
}

# bench::tcp::Latency scenario count limit --
#	count timed round trips (after warmupTrips untimed ones), one ping
#	in flight at a time.
proc ::bench::tcp::Latency {scenario count limit} {
    variable ping
    variable warmupTrips
    set ::ping $ping
    set ::warmup $warmupTrips
    set ::N [expr {$count + $warmupTrips}]
    set ::n 0
    set ::rtts {}
    set ::done 0
    set peerKind [dict get {
	lat-tcl peer-echo-tcl lat-courier peer-echo-courier
	lat-mixed peer-echo-tcl lat-co peer-echo-courier
    } $scenario]
    set peer [Spawn $peerKind [expr {$limit + 5}]]
    set port [lindex [Expect $peer "port *" $limit] 1]
    WarmUp 300
    if {$scenario eq "lat-co"} {
	CoRoundTrips $port $limit
    } else {
	ClientRoundTrips $scenario $port $limit
    }
    if {$::done ne "1"} {
	set out [Reap $peer 5]
	return -code error "$scenario: stopped ($::done) after $::n of\
		$::N round trips; echo peer printed: $out"
    }
    Reap $peer 10
    set sorted [lsort -integer $::rtts]
    set k [llength $sorted]
    return [dict create scenario $scenario count $count \
	    p50 [lindex $sorted [expr {$k / 2}]] \
	    p99 [lindex $sorted [expr {int(ceil($k * 0.99)) - 1}]] \
	    max [lindex $sorted end] \
	    mean [expr {[tcl::mathop::+ {*}$sorted] / double($k)}] \
	    peakRssMiB [expr {[Status VmHWM] / 1024.0}]]
}

# bench::tcp::ClientRoundTrips scenario port limit --
#	The callback client of the latency scenarios (Tcl fileevent or
#	courier -ondata): ::Pong sends each next ping; sets ::done.
proc ::bench::tcp::ClientRoundTrips {scenario port limit} {
    variable ping
    if {$scenario eq "lat-tcl"} {
	set s [socket 127.0.0.1 $port]
	fconfigure $s -blocking 0 -buffering line -translation lf \
		-encoding utf-8
	fileevent $s readable [list ::TclPong $s]
	set ::send [list puts $s]
    } else {
	package require courier
	SetSpin
	set s [courier::connect 127.0.0.1 $port -framing line \
		-ondata ::CourierPong -onclose ::CourierClosed \
		-onconnect {apply {{c} { set ::connected 1 }}}]
	set ::send [list $s send]
    }
    set watchdog [after [expr {int($limit * 1000)}] {
	set ::done timeout
	set ::connected 0
    }]
    if {$scenario ne "lat-tcl"} {
	# Sends made before the connection opens would be kept, but the
	# first round trip must not include the connect.
	while {![info exists ::connected] && $::done eq "0"} {
	    vwait ::connected
	}
    }
    set ::sent [clock microseconds]
    {*}$::send $ping
    vwait ::done
    after cancel $watchdog
    if {$scenario eq "lat-tcl"} {
	close $s
    } else {
	$s close
    }
}

# bench::tcp::CoRoundTrips port limit --
#	The latency scenario written as courier::co code: a coroutine sends
#	a ping and waits for its echo with co::receive, in a loop, the way
#	request/response code reads with the coroutine API. Sets ::done.
proc ::bench::tcp::CoRoundTrips {port limit} {
    package require courier
    SetSpin
    set ::coPort $port
    set watchdog [after [expr {int($limit * 1000)}] {set ::done timeout}]
    courier::co::go {
	set c [courier::co::connect 127.0.0.1 $::coPort -framing line]
	while {$::n < $::N && $::done eq "0"} {
	    set sent [clock microseconds]
	    courier::co::send $c $::ping
	    courier::co::receive $c
	    if {[incr ::n] > $::warmup} {
		lappend ::rtts [expr {[clock microseconds] - $sent}]
	    }
	}
	courier::co::close $c
	if {$::done eq "0"} {
	    set ::done 1
	}
    }
    while {$::done eq "0"} {
	vwait ::done
    }
    after cancel $watchdog
}

# ----------------------------------------------------------------------
# The connections scenario: a coordinating child, a server process and
# a client process, both courier, each with its open-file limit raised.
# ----------------------------------------------------------------------

# bench::tcp::FdLimit --
#	This process's open-file limit (what a shell it starts inherits).
proc ::bench::tcp::FdLimit {} {
    if {[catch {exec sh -c {ulimit -n}} n] || ![string is integer $n]} {
	return 0
    }
    return $n
}

# bench::tcp::PeerConnServer count limit --
#	Listens, says "ready port rss", echoes every line on every
#	connection, answers "rss" with its resident set and client count.
proc ::bench::tcp::PeerConnServer {count limit} {
    if {[set fds [FdLimit]] < $count + 64} {
	puts "error: open-file limit $fds is too low for $count connections"
	exit 1
    }
    package require courier
    Watchdog $limit
    update		;# the notifier thread starts now (see the client)
    set ::accepted 0
    set srv [courier::listen 0 -backlog 4096 -framing line \
	    -ondata ::bench::tcp::EchoMessage \
	    -onaccept {apply {{s c host port} { incr ::accepted }}}]
    puts "ready [$srv port] [Status VmRSS]"
    flush stdout
    while 1 {
	vwait ::bench::tcp::command
	switch -- $::bench::tcp::command {
	    rss {
		puts "rss [Status VmRSS] $::accepted\
			[dict get [$srv info] clients]"
		flush stdout
	    }
	    quit {
		puts "peak [Status VmHWM]"
		flush stdout
		exit 0
	    }
	}
    }
}

# The client's callbacks.
proc ::ConnUp {c} {
    if {[incr ::up] == $::N} {
	set ::t1 [clock microseconds]
	set ::phase connected
    }
    ::ConnOpenMore
}
proc ::ConnDown {c reason} {
    if {$::phase ne "connecting"} {
	puts "error: $c closed after setup: $reason"
	exit 1
    }
    incr ::failed
    lappend ::reasons $reason
    if {$::failed == 1} {
	set ::firstFailure $reason
    }
    if {$::up + $::failed >= $::N} {
	set ::phase connected
    }
    ::ConnOpenMore
}
# ConnOpenMore --
#	Keeps at most ::window connects in flight, as a client that opens
#	thousands of connections would; the listen backlog is bounded too.
proc ::ConnOpenMore {} {
    while {$::opened < $::N && $::opened - $::up - $::failed < $::window} {
	lappend ::conns [courier::connect 127.0.0.1 $::port -framing line \
		-onconnect ::ConnUp -onclose ::ConnDown \
		-ondata ::ConnEcho]
	incr ::opened
    }
}
proc ::ConnEcho {c line} {
    if {[incr ::echoed] == $::echoTotal} {
	set ::t1 [clock microseconds]
	set ::phase echoed
	return
    }
    if {[incr ::left($c) -1] > 0} {
	$c send $line
    }
}

# bench::tcp::PeerConnClient port count trips window limit --
#	Opens count connections (window in flight at a time), reports the
#	setup rate and its resident set once they are idle, then on "echo"
#	runs trips round trips on every connection at once.
proc ::bench::tcp::PeerConnClient {port count trips window limit} {
    if {[set fds [FdLimit]] < $count + 64} {
	puts "error: open-file limit $fds is too low for $count connections"
	exit 1
    }
    package require courier
    Watchdog $limit
    # Work-around: enter the event loop once before opening thousands of
    # descriptors. Tcl 8.6 starts its select()-based notifier thread at
    # the first wait for events, and that thread's pipe must get a
    # descriptor below FD_SETSIZE (1024); otherwise glibc aborts the
    # process ("bit out of range 0 - FD_SETSIZE on fd_set"). See
    # bench/README.md.
    update
    set ::port $port
    set ::N $count
    set ::window $window
    set ::opened 0
    set ::up 0
    set ::failed 0
    set ::reasons {}
    set ::conns {}
    set ::phase connecting
    set rss0 [Status VmRSS]
    WarmUp 300
    set t0 [clock microseconds]
    ::ConnOpenMore
    vwait ::phase
    if {$::failed} {
	puts "error: $::failed of $count connections failed, first:\
		$::firstFailure"
	exit 1
    }
    set setup [expr {($::t1 - $t0) / 1e6}]
    # Idle: let the I/O thread and the allocator settle.
    after 500 {set ::settled 1}
    vwait ::settled
    puts "connected $setup $rss0 [Status VmRSS]"
    flush stdout
    vwait ::bench::tcp::command
    set ::echoed 0
    set ::echoTotal [expr {$count * $trips}]
    variable ping
    foreach c $::conns {
	set ::left($c) $trips
    }
    set t0 [clock microseconds]
    foreach c $::conns {
	$c send $ping
    }
    vwait ::phase
    set seconds [expr {($::t1 - $t0) / 1e6}]
    puts "echoed $seconds $::echoTotal"
    flush stdout
    vwait ::bench::tcp::command
    # Reset rather than close gracefully: no TIME_WAIT left behind to
    # eat the ephemeral ports of the next round.
    set t0 [clock microseconds]
    foreach c $::conns {
	$c close -now
    }
    puts "closed [expr {([clock microseconds] - $t0) / 1e6}]\
	    [expr {[Status VmHWM]}]"
    flush stdout
    exit 0
}

# bench::tcp::Conns count trips limit --
#	The coordinating child: starts the server, then the client, and
#	puts their reports together.
proc ::bench::tcp::Conns {count trips limit} {
    set fds [expr {$count + 1000}]
    set server [Spawn -ulimit $fds peer-conn-server $count $limit]
    set client ""
    set code [catch {
	lassign [Expect $server "ready *" $limit] - port srss0
	set window 1000
	set client [Spawn -ulimit $fds peer-conn-client $port $count \
		$trips $window $limit]
	lassign [Expect $client "connected *" $limit] - setup crss0 crss1
	puts $server rss
	lassign [Expect $server "rss *" $limit] - srss1 accepted clients
	puts $client echo
	lassign [Expect $client "echoed *" $limit] - echoSeconds echoTotal
	puts $client close
	lassign [Expect $client "closed *" $limit] - closeSeconds cpeak
	puts $server quit
	lassign [Expect $server "peak *" $limit] - speak
    } msg]
    if {$client ne ""} {
	Reap $client 10
    }
    set sout [Reap $server 10]
    if {$code} {
	return -code error "conns: $msg"
    }
    if {$accepted != $count} {
	return -code error "conns: the server accepted $accepted of $count\
		connections ($clients handles); it printed: $sout"
    }
    return [dict create scenario conns count $count trips $trips \
	    window $window \
	    setupSeconds $setup rate [expr {$count / $setup}] \
	    serverKiBPerConn [expr {($srss1 - $srss0) / double($count)}] \
	    clientKiBPerConn [expr {($crss1 - $crss0) / double($count)}] \
	    echoSeconds $echoSeconds \
	    echoRate [expr {$echoTotal / $echoSeconds}] \
	    closeSeconds $closeSeconds \
	    serverPeakMiB [expr {$speak / 1024.0}] \
	    clientPeakMiB [expr {$cpeak / 1024.0}]]
}

# bench::tcp::child role args --
#	The main of every process this file starts.
proc ::bench::tcp::child {role args} {
    variable scenarios
    switch -glob -- $role {
	lines-* - bulk-* {
	    set r [Receive $role {*}$args]
	}
	lat-* {
	    set r [Latency $role {*}$args]
	}
	conns {
	    set r [Conns {*}$args]
	}
	peer-send {
	    PeerSend {*}$args
	    return
	}
	peer-echo-tcl {
	    PeerEchoTcl {*}$args
	    return
	}
	peer-echo-courier {
	    PeerEchoCourier {*}$args
	    return
	}
	peer-conn-server {
	    PeerConnServer {*}$args
	    return
	}
	peer-conn-client {
	    PeerConnClient {*}$args
	    return
	}
	default {
	    return -code error "usage: tcp.tcl scenario args, scenario one\
		    of: [dict keys $scenarios]"
	}
    }
    puts [list result $r]
}

# ----------------------------------------------------------------------
# The driver side: one child per scenario and round, then the tables.
# ----------------------------------------------------------------------

# bench::tcp::Counts --
#	The scenario's arguments after its key (the child's last argument
#	is its own deadline, a little under the driver's).
proc ::bench::tcp::Counts {} {
    set limit [expr {max(10, $::bench::timeout - 10)}]
    if {$::bench::quick} {
	return [dict create lines [list 200000 $limit] \
		bulk [list 128 $limit] latency [list 2000 $limit] \
		conns [list 1000 10 $limit]]
    }
    return [dict create lines [list 2000000 $limit] \
	    bulk [list 1024 $limit] latency [list 20000 $limit] \
	    conns [list 10000 10 $limit]]
}

# The key each scenario's median run is chosen by.
proc ::bench::tcp::MedianKey {key} {
    switch -glob -- $key {
	lat-* { return p50 }
	conns { return echoRate }
	default { return rate }
    }
}

# bench::tcp::run --
#	Called by run.tcl.
proc ::bench::tcp::run {} {
    variable scenarios
    variable script
    variable line
    set counts [Counts]
    set nl [lindex [dict get $counts lines] 0]
    set mb [lindex [dict get $counts bulk] 0]
    set nrt [lindex [dict get $counts latency] 0]
    lassign [dict get $counts conns] nconn trips
    puts "peers in processes of their own over 127.0.0.1; each scenario\
	    in its own tclsh"
    set load0 [::bench::loadAverage]
    # Rounds go through every scenario in turn, so that a slow spell of
    # the machine hits them all alike.
    array set runs {}
    set failures {}
    for {set round 0} {$round < $::bench::repeat} {incr round} {
	foreach {key group label} $scenarios {
	    if {[catch {::bench::child $script $key \
		    {*}[dict get $counts $group]} r]} {
		lappend failures $key $r
		continue
	    }
	    lappend runs($key) $r
	}
    }
    set results {}
    foreach {key group label} $scenarios {
	if {[info exists runs($key)]} {
	    dict set results $key [::bench::median $runs($key) \
		    [MedianKey $key]]
	}
    }
    set rows [Rows $results]
    Tables $rows $nl $mb $nrt $nconn $trips
    # Other work on the machine spoils the figures more than anything
    # else: say how busy it was (the benchmark itself keeps one to two
    # cores busy).
    puts "\nload average (1 min): $load0 before, [::bench::loadAverage] after"
    Spread [array get runs]
    foreach {key r} $failures {
	puts "\n$key FAILED: $r"
    }
    Targets $results
    set path [::bench::saveResults tcp.csv {key group scenario metric value
	unit vs_tcl tick_gap_ms peak_rss_mib count} [lmap row $rows {
	    if {[set v [lindex $row 6]] ne ""} {
		lset row 6 [format %.3f $v]
	    }
	    set row
	}] [expr {[dict size $results] == [llength $scenarios] / 3}]]
    if {$path ne ""} {
	if {[catch {Plot $rows} msg]} {
	    puts "no plot: $msg"
	} elseif {$msg ne ""} {
	    puts "written: bench/results/[file tail $msg]"
	}
    }
    ::bench::failIfAny $failures
}

# bench::tcp::Ratio results key base field --
#	key's field over base's, or "" when either is missing.
proc ::bench::tcp::Ratio {results key base field} {
    if {![dict exists $results $key $field]
	    || ![dict exists $results $base $field]} {
	return ""
    }
    expr {double([dict get $results $key $field])
	    / [dict get $results $base $field]}
}

# bench::tcp::Rows --
#	One row per figure, the CSV's columns:
#	key group label metric value unit vsTcl tickGap peakRss count.
proc ::bench::tcp::Rows {results} {
    variable scenarios
    set rows {}
    foreach {key group label} $scenarios {
	if {![dict exists $results $key]} {
	    continue
	}
	set r [dict get $results $key]
	set peak [expr {[dict exists $r peakRssMiB]
		? [format %.1f [dict get $r peakRssMiB]] : ""}]
	set gap [expr {[dict exists $r tickGapMs]
		? [format %.1f [dict get $r tickGapMs]] : ""}]
	set count [dict get $r count]
	switch -- $group {
	    lines - bulk {
		set base [dict get {lines lines-tcl bulk bulk-tcl} $group]
		set unit [dict get {lines lines/s bulk MB/s} $group]
		set v [Ratio $results $key $base rate]
		lappend rows [list $key $group $label rate \
			[format [expr {$group eq "lines" ? "%.0f" : "%.1f"}] \
			[dict get $r rate]] $unit \
			$v $gap $peak \
			$count]
	    }
	    latency {
		foreach metric {p50 p99} {
		    set v [Ratio $results $key lat-tcl $metric]
		    lappend rows [list $key $group $label $metric \
			    [dict get $r $metric] us \
			    $v \
			    "" $peak $count]
		}
	    }
	    conns {
		foreach {metric unit field fmt} {
		    setup conn/s rate %.0f
		    server_rss_per_conn KiB serverKiBPerConn %.2f
		    client_rss_per_conn KiB clientKiBPerConn %.2f
		    echo round-trips/s echoRate %.0f
		} {
		    lappend rows [list $key $group $label $metric \
			    [format $fmt [dict get $r $field]] $unit "" "" \
			    [format %.1f [expr {max([dict get $r \
			    serverPeakMiB], [dict get $r clientPeakMiB])}]] \
			    $count]
		}
	    }
	}
    }
    return $rows
}

# bench::tcp::Tables --
#	The rows, one small table per group.
proc ::bench::tcp::Tables {rows nl mb nrt nconn trips} {
    variable line
    set x {apply {{v} {expr {$v eq "" ? "-" : [format %.2fx $v]}}}}
    set byGroup {}
    foreach row $rows {
	dict lappend byGroup [lindex $row 1] $row
    }
    if {[dict exists $byGroup lines]} {
	puts "\nlines: $nl lines of [expr {[string length $line] + 1}] bytes\
		into a Tcl callback (vs Tcl: the gets loop)"
	::bench::table {scenario lines/s "vs Tcl" "tick gap ms"
	    "peak RSS MiB"} [lmap row [dict get $byGroup lines] {
		lassign $row - - label - value - v gap peak
		list $label $value [{*}$x $v] $gap $peak
	    }]
    }
    if {[dict exists $byGroup bulk]} {
	puts "\nbulk: $mb MiB into a Tcl callback (MB = 10^6 bytes)"
	::bench::table {scenario MB/s "vs Tcl" "tick gap ms"
	    "peak RSS MiB"} [lmap row [dict get $byGroup bulk] {
		lassign $row - - label - value - v gap peak
		list $label $value [{*}$x $v] $gap $peak
	    }]
    }
    if {[dict exists $byGroup latency]} {
	puts "\nlatency: $nrt round trips of 64-byte lines, one in flight\
		(vs Tcl: lower is better)"
	set lrows {}
	foreach {p50 p99} [dict get $byGroup latency] {
	    lappend lrows [list [lindex $p50 2] [lindex $p50 4] \
		    [{*}$x [lindex $p50 6]] [lindex $p99 4] \
		    [{*}$x [lindex $p99 6]]]
	}
	::bench::table {scenario "p50 us" "vs Tcl" "p99 us" "vs Tcl"} $lrows
    }
    if {[dict exists $byGroup conns]} {
	puts "\nconns: $nconn connections, courier client and server in\
		two processes, $trips echo round trips on each"
	set c {}
	foreach row [dict get $byGroup conns] {
	    dict set c [lindex $row 3] [lindex $row 4]
	    set peak [lindex $row 8]
	}
	::bench::table {scenario "setup conn/s" "RSS/conn server KiB"
	    "client KiB" "echo round trips/s" "peak RSS MiB"} [list \
		[list [lindex [dict get $byGroup conns] 0 2] \
		[dict get $c setup] [dict get $c server_rss_per_conn] \
		[dict get $c client_rss_per_conn] [dict get $c echo] $peak]]
	puts "(no Tcl row: Tcl 8.6's notifier uses select(), which cannot\
		watch descriptors above FD_SETSIZE 1024)"
    }
}

# bench::tcp::Spread --
#	Each scenario's figure over the rounds (min .. max).
proc ::bench::tcp::Spread {runs} {
    variable scenarios
    if {$::bench::repeat < 2} {
	return
    }
    puts "\nover $::bench::repeat rounds (min .. max):"
    foreach {key group label} $scenarios {
	if {![dict exists $runs $key]} {
	    continue
	}
	set field [MedianKey $key]
	set v [lsort -real [lmap r [dict get $runs $key] {
	    dict get $r $field
	}]]
	puts [format "  %-42s %-9s %12.1f .. %.1f" $label $field \
		[lindex $v 0] [lindex $v end]]
    }
}

# bench::tcp::Targets --
#	The issue's targets, met or MISSED, with the figures.
proc ::bench::tcp::Targets {results} {
    variable targets
    puts "\ntargets of the issue:"
    set verdicts {}
    set v [Ratio $results lines-msg lines-tcl rate]
    lappend verdicts [Verdict "lines per message >= [dict get $targets \
	    lineRatio]x Tcl gets" [expr {$v ne ""
		&& $v >= [dict get $targets lineRatio]}] \
	    [expr {$v eq "" ? "no result" : [format %.2fx $v]}]]
    set v [Ratio $results lines-batch lines-tcl rate]
    lappend verdicts [Verdict "lines batch >= [dict get $targets \
	    batchRatio]x Tcl gets" [expr {$v ne ""
		&& $v >= [dict get $targets batchRatio]}] \
	    [expr {$v eq "" ? "no result" : [format %.2fx $v]}]]
    set v [Ratio $results bulk-raw bulk-tcl rate]
    lappend verdicts [Verdict "bulk raw >= [dict get $targets \
	    bulkRatio]x Tcl read" [expr {$v ne ""
		&& $v >= [dict get $targets bulkRatio]}] \
	    [expr {$v eq "" ? "no result" : [format %.2fx $v]}]]
    set v [Ratio $results lat-courier lat-tcl p50]
    lappend verdicts [Verdict "latency p50 <= [dict get $targets \
	    p50Ratio]x Tcl" [expr {$v ne ""
		&& $v <= [dict get $targets p50Ratio]}] \
	    [expr {$v eq "" ? "no result" : [format "%.2fx (%s vs %s us)" \
		$v [dict get $results lat-courier p50] \
		[dict get $results lat-tcl p50]]}]]
    set max [dict get $targets rssKiB]
    if {[dict exists $results conns]} {
	set s [dict get $results conns serverKiBPerConn]
	set c [dict get $results conns clientKiBPerConn]
	lappend verdicts [Verdict "RSS per idle connection <= $max KiB" \
		[expr {$s <= $max && $c <= $max}] \
		[format "server %.2f, client %.2f KiB" $s $c]]
    } else {
	lappend verdicts [Verdict "RSS per idle connection <= $max KiB" 0 \
		"no result"]
    }
    set met [llength [lsearch -all $verdicts 1]]
    puts "targets: $met of [llength $verdicts] met"
    # Not a target of the issue, but what the inbox promises.
    foreach {key base} {lines-msg lines-tcl lines-batch lines-tcl
	    bulk-raw bulk-tcl} {
	if {[dict exists $results $key] && [dict exists $results $base]} {
	    lappend gaps [format "%s %.1f ms (Tcl %.1f)" $key \
		    [dict get $results $key tickGapMs] \
		    [dict get $results $base tickGapMs]]
	}
    }
    if {[info exists gaps]} {
	puts "largest after-10 gap at full speed: [join $gaps {; }]"
    }
}
proc ::bench::tcp::Verdict {what met figure} {
    puts [format "  %-42s %-6s (%s)" $what [expr {$met ? "met" : "MISSED"}] \
	    $figure]
    return $met
}

# bench::tcp::Plot rows --
#	bench/results/tcp.png when gnuplot is installed: throughput relative
#	to Tcl (each bar labelled with its absolute figure) and latency
#	bars. Returns the path, or "" without gnuplot.
proc ::bench::tcp::Plot {rows} {
    if {[auto_execok gnuplot] eq ""} {
	return ""
    }
    set dir [file join $::bench::dir results]
    set png [file join $dir tcp.png]
    set tmp [file join $dir tcp.plot.tmp]
    file mkdir $tmp
    set tput [open [file join $tmp tput.dat] w]
    set lat [open [file join $tmp lat.dat] w]
    set i 0
    foreach row $rows {
	lassign $row key group label metric value unit vs
	set color [expr {[string match *tcl $key] ? "0x9a9a9a" : "0x3a78b5"}]
	switch -- $group {
	    lines - bulk {
		set figure [expr {$group eq "lines"
		    ? [format "%.2f M lines/s" [expr {$value / 1e6}]]
		    : [format "%.0f MB/s" $value]}]
		puts $tput [format "%d \"%s: %s\" %s %s \"%.2fx\\n%s\"" \
			$i $group $label $vs $color $vs $figure]
		incr i
	    }
	    latency {
		set l($key,$metric) $value
		set l($key) $label
	    }
	}
    }
    set i 0
    foreach key {lat-tcl lat-courier lat-mixed} {
	if {[info exists l($key)]} {
	    puts $lat [format "%d \"%s\" %s %s" $i $l($key) $l($key,p50) \
		    $l($key,p99)]
	    incr i
	}
    }
    close $tput
    close $lat
    set gp [open [file join $tmp tcp.gp] w]
    puts $gp [string map [list @PNG@ $png @DIR@ $tmp] {
	set terminal pngcairo size 1400,560 font "sans,10"
	set output "@PNG@"
	set multiplot layout 1,2 title "courier TCP vs Tcl 8.6 sockets (bench/tcp.tcl; grey = Tcl, blue = courier)"
	set style fill solid 0.85 border -1
	set grid ytics
	set xtics rotate by -25 left noenhanced
	set bmargin 9
	set key off
	set yrange [0:*]
	set offsets 0.5, 0.5, graph 0.12, 0
	set title "throughput into a Tcl callback, relative to Tcl (1.0 = Tcl)"
	set ylabel "x Tcl"
	set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2
	plot "@DIR@/tput.dat" using 1:3:(0.7):4:xtic(2) with boxes lc rgb variable, \
	     "" using 1:3:5 with labels offset 0,1.6 font "sans,9" noenhanced
	unset arrow 1
	set key top left
	set title "round trip of a 64-byte line, one in flight (lower is better)"
	set ylabel "microseconds"
	plot "@DIR@/lat.dat" using ($1-0.18):3:(0.34):xtic(2) with boxes lc rgb "#3a78b5" title "p50", \
	     "" using ($1+0.18):4:(0.34) with boxes lc rgb "#e08a2c" title "p99", \
	     "" using ($1-0.18):3:3 with labels offset 0,0.7 notitle, \
	     "" using ($1+0.18):4:4 with labels offset 0,0.7 notitle
	unset multiplot
    }]
    close $gp
    set code [catch {exec gnuplot [file join $tmp tcp.gp] 2>@1} msg]
    file delete -force $tmp
    if {$code} {
	return -code error "gnuplot: $msg"
    }
    return $png
}

# Run as a script: be the child (or a peer).
if {[info exists ::argv0]
	&& [file normalize $::argv0] eq $::bench::tcp::script} {
    ::bench::tcp::child {*}$::argv
    exit 0
}
