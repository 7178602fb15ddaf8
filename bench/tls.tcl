# tls.tcl --
#
#	Courier's TLS (courier::connect -tls 1) side by side with the `tls`
#	package (TclTLS 1.7, Debian tcl-tls), which runs OpenSSL in the
#	interpreter's thread. Both are clients of the same TLS server, a
#	Node.js process of its own (bench/tls_peer.js) on 127.0.0.1, and
#	verify its certificate against a CA made for the run:
#	  gap	  200 connections started at once: the largest gap of an
#		  `after 10` ticker in the measuring thread until every
#		  handshake has completed (also less that thread's wait for
#		  a CPU), the thread's CPU time meanwhile, and the
#		  handshakes/s of the burst; the tls package also with the
#		  system CA bundle kept out (see Handshakes);
#	  conns	  200 new connections, 50 in flight, full handshakes (the
#		  server issues no tickets and caches no sessions):
#		  handshakes/s, then the resident memory per idle connection;
#	  server  the same on the accepting side: a courier listener,
#		  200 Node.js clients (Courier only);
#	  lines	  lines/s into Tcl: courier -framing line with a proc per line
#		  (and -batch 1, a proc per read) against a tls channel whose
#		  fileevent handler runs a `gets` loop calling no proc (and
#		  the same loop calling the proc per line); and the ceiling
#		  of a proc per line, a Tcl loop calling it with no I/O;
#	  bulk	  MB/s into Tcl: courier -framing raw, a proc per chunk,
#		  against `read` of 64 KiB chunks from a binary tls channel.
#	The certificates (the test suite's, tests/tlscerts.tcl: a CA and a
#	server certificate for localhost and 127.0.0.1, EC P-256) are made
#	with the openssl command into a temporary directory at the start of
#	the run.
#
#	The file has two roles, like tcp.tcl, whose helpers (Expect, Reap,
#	Status, WarmUp, the ticker probe, the receiving callbacks) it
#	sources, with udp.tcl's ticker that also counts the wait for a CPU:
#	  - sourced by run.tcl, it defines ::bench::tls::run, which starts
#	    one child per scenario and round and prints the tables;
#	  - run as `tclsh tls.tcl scenario certdir count limit`, it is that
#	    child: it starts the Node.js peer, runs one scenario and prints
#	    "result <dict>".

namespace eval ::bench::tls {
    variable script [file normalize [info script]]
    variable dir [file dirname $script]
    # key group mechanism label
    variable scenarios {
	gap-tcltls    gap   tcltls  "tls package: tls::socket -async, tls::handshake"
	gap-tcltls-nobundle gap tcltls "the same, no system CA bundle"
	gap-courier   gap   courier "courier::connect -tls 1"
	conns-tcltls  conns tcltls  "tls package"
	conns-tcltls-nobundle conns tcltls "tls package, no system CA bundle"
	conns-courier conns courier "courier"
	server-courier server courier "courier::listen -tls 1"
	lines-tcltls  lines tcltls  "tls channel, gets loop (no proc per line)"
	lines-tcltls-proc lines tcltls "tls channel, gets loop calling a proc per line"
	lines-courier lines courier "courier line, proc per line"
	lines-batch   lines batch   "courier line -batch 1, proc per read"
	lines-limit   lines limit   "limit: a Tcl loop calling that proc, no I/O"
	bulk-tcltls   bulk  tcltls  "tls channel, read 64 KiB chunks, binary"
	bulk-courier  bulk  courier "courier raw, proc per chunk"
    }
    # The issue's targets.
    variable targets {gapMs 20 lineRatio 2.0 bulkRatio 2.0 rssKiB 48}
    # Connections in flight in the conns scenario.
    variable window 50
}
source [file join $::bench::tls::dir tcp.tcl]
source [file join $::bench::tls::dir udp.tcl]
namespace eval ::bench::tls {
    namespace path ::bench::tcp
}

# ----------------------------------------------------------------------
# The peer.
# ----------------------------------------------------------------------

# bench::tls::Peer limit args --
#	Starts `node tls_peer.js args` (see that file) and returns its pipe
#	and port, waiting at most limit seconds for it. It exits when the pipe closes (bench::tcp::Reap).
proc ::bench::tls::Peer {limit args} {
    set chan [Node {*}$args]
    set port [lindex [::bench::tcp::Expect $chan "port *" $limit] 1]
    return [list $chan $port]
}

# bench::tls::Node args --
#	Starts `node tls_peer.js args`; returns the pipe.
proc ::bench::tls::Node {args} {
    variable dir
    set node [lindex [auto_execok node] 0]
    set chan [open |[list $node [file join $dir tls_peer.js] {*}$args \
	    2>@1] r+]
    fconfigure $chan -blocking 0 -buffering line
    return $chan
}

# ----------------------------------------------------------------------
# The handshake scenarios (gap, conns): count connections, window in
# flight at a time (gap: all at once, from one loop), to a peer that
# holds them open.
# ----------------------------------------------------------------------

# bench::tls::Open --
#	Starts one client connection of the mechanism under test; Up or
#	Failed is called when its handshake ends.
proc ::bench::tls::Open {} {
    variable mech
    variable port
    variable ca
    variable conns
    if {$mech eq "tcltls"} {
	# The tls package's non-blocking handshake: an -async socket whose
	# fileevents call tls::handshake until it returns 1. Writable fires
	# once the TCP connection is up; then the server's answers come as
	# readable events.
	set s [tls::socket -async -cafile $ca -require 1 \
		-servername localhost 127.0.0.1 $port]
	fconfigure $s -blocking 0
	fileevent $s writable [list ::bench::tls::Step $s 1]
	fileevent $s readable [list ::bench::tls::Step $s 0]
    } else {
	set s [courier::connect 127.0.0.1 $port -tls 1 -cafile $ca \
		-servername localhost -framing raw \
		-onconnect ::bench::tls::Up -onclose ::bench::tls::Closed]
    }
    lappend conns $s
}
proc ::bench::tls::Step {s writable} {
    if {$writable} {
	fileevent $s writable {}
    }
    if {[catch {tls::handshake $s} done]} {
	if {[string match "*temporarily unavailable*" $done]} {
	    return
	}
	fileevent $s readable {}
	Failed $s $done
	return
    }
    if {$done} {
	fileevent $s readable {}
	Up $s
    }
}
proc ::bench::tls::Closed {c reason} {
    variable phase
    if {$phase ne "done"} {
	Failed $c $reason
    }
}
proc ::bench::tls::Up {c} {
    variable up
    variable failed
    variable count
    if {[incr up] + $failed == $count} {
	Complete
    }
    OpenMore
}
proc ::bench::tls::Failed {c reason} {
    variable up
    variable failed
    variable count
    variable firstFailure
    if {[incr failed] == 1} {
	set firstFailure $reason
    }
    if {$up + $failed == $count} {
	Complete
    }
    OpenMore
}
proc ::bench::tls::Complete {} {
    variable phase
    variable t1
    set t1 [clock microseconds]
    set phase done
}
proc ::bench::tls::OpenMore {} {
    variable opened
    variable up
    variable failed
    variable count
    variable window
    while {$opened < $count && $opened - $up - $failed < $window} {
	incr opened
	Open
    }
}

# bench::tls::Settle ms --
#	Lets the event loop (and the I/O threads) run for ms.
proc ::bench::tls::Settle {ms} {
    after $ms {set ::bench::tls::settled 1}
    vwait ::bench::tls::settled
}

# bench::tls::ThreadCpu --
#	The CPU time the interpreter's (main) thread has used, in ns (the
#	first field of its schedstat), or 0 where the file is absent.
proc ::bench::tls::ThreadCpu {} {
    if {[catch {
	set f [open /proc/self/task/[pid]/schedstat]
	set ns [lindex [read $f] 0]
	close $f
    }]} {
	return 0
    }
    return $ns
}

# bench::tls::ProcessCpu --
#	The CPU time all this process's threads have used, in ns (the sum
#	of their schedstat), or 0 where the files are absent.
proc ::bench::tls::ProcessCpu {} {
    set ns 0
    foreach task [glob -nocomplain /proc/self/task/*/schedstat] {
	catch {
	    set f [open $task]
	    incr ns [lindex [read $f] 0]
	    close $f
	}
    }
    return $ns
}

# bench::tls::Handshakes scenario certdir count limit --
#	The child of a gap or conns scenario. One connection is made and
#	completed first, so that the mechanism's one-time costs (loading
#	OpenSSL, its first context) are not counted; then count more, and
#	after they are idle the RSS they added.
proc ::bench::tls::Handshakes {scenario certdir count limit} {
    variable mech
    variable port
    variable ca [file join $certdir ca.pem]
    variable conns {}
    variable phase
    variable opened 0
    variable up 0
    variable failed 0
    variable firstFailure ""
    variable window
    variable t1
    lassign [split $scenario -] group mech variant
    if {$group eq "gap"} {
	set window $count
    }
    lassign [Peer $limit hold $certdir] peer port
    if {$variant eq "nobundle"} {
	# The tls package loads the system's CA bundle (the default verify
	# paths) into a new context for every connection, even with
	# -cafile; this variant points OpenSSL at an empty one, to show
	# what that costs.
	set ::env(SSL_CERT_FILE) /dev/null
    }
    if {$mech eq "tcltls"} {
	package require tls
    } else {
	package require courier
    }
    set watchdog [after [expr {int($limit * 1000)}] \
	    {set ::bench::tls::phase timeout}]
    # The first connection, untimed.
    set phase first
    set ::bench::tls::count 1
    OpenMore
    vwait ::bench::tls::phase
    if {$phase ne "done" || $failed} {
	set out [::bench::tcp::Reap $peer 5]
	return -code error "$scenario: the first connection: $phase\
		$firstFailure; peer printed: $out"
    }
    ::bench::tcp::WarmUp 300
    Settle 200
    set rss0 [::bench::tcp::Status VmRSS]
    set ::bench::tls::count [expr {$count + 1}]
    set phase connecting
    set cpu0 [ThreadCpu]
    ::bench::udp::StartProbe
    set t0 [clock microseconds]
    OpenMore
    # What the loop that starts the connections took (gap: all of them;
    # conns: the first window): time the measuring thread spent in the
    # mechanism's connect commands.
    set loopMs [expr {([clock microseconds] - $t0) / 1e3}]
    vwait ::bench::tls::phase
    lassign [::bench::udp::StopProbe $t1] gap ownGap
    set cpu [expr {([ThreadCpu] - $cpu0) / 1e6}]
    after cancel $watchdog
    if {$phase ne "done" || $failed} {
	set out [::bench::tcp::Reap $peer 5]
	return -code error "$scenario: $phase: $up of $count up, $failed\
		failed, first: $firstFailure; peer printed: $out"
    }
    set seconds [expr {($t1 - $t0) / 1e6}]
    Settle 500
    set rss1 [::bench::tcp::Status VmRSS]
    puts $peer stats
    lassign [::bench::tcp::Expect $peer "stats *" $limit] - hs reused
    set phase closing
    foreach c $conns {
	if {$mech eq "tcltls"} {
	    close $c
	} else {
	    $c close -now
	}
    }
    ::bench::tcp::Reap $peer 10
    return [dict create scenario $scenario count $count window $window \
	    seconds $seconds rate [expr {$count / $seconds}] \
	    tickGapMs $gap ownGapMs $ownGap loopMs $loopMs tclCpuMs $cpu \
	    kibPerConn [expr {($rss1 - $rss0) / double($count)}] \
	    peerHandshakes $hs reused $reused \
	    peakRssMiB [expr {[::bench::tcp::Status VmHWM] / 1024.0}]]
}

# bench::tls::Server scenario certdir count limit --
#	The child of the server scenario: a courier TLS listener; one Node.js
#	client connects first (untimed), then another opens count
#	connections, window at a time, and holds them; the RSS they added
#	once idle.
proc ::bench::tls::Server {scenario certdir count limit} {
    variable window
    variable accepted 0
    variable failures {}
    package require courier
    set srv [courier::listen 0 -tls 1 \
	    -certfile [file join $certdir server.pem] \
	    -keyfile [file join $certdir server.key] -framing raw \
	    -onconnect {apply {{c} { incr ::bench::tls::accepted }}} \
	    -onclose {apply {{c reason} {
		if {$::bench::tls::phase ne "closing"} {
		    lappend ::bench::tls::failures $reason
		    set ::bench::tls::accepted $::bench::tls::accepted
		}
	    }}}]
    variable phase connecting
    set watchdog [after [expr {int($limit * 1000)}] \
	    {set ::bench::tls::accepted timeout}]
    set clients {}
    set code [catch {
	foreach {n want} [list 1 1 $count [expr {$count + 1}]] {
	    set node [Node connect $certdir [$srv port] $n $window]
	    lappend clients $node
	    ::bench::tcp::Expect $node ready $limit
	    if {$n > 1} {
		::bench::tcp::WarmUp 300
		Settle 200
		set rss0 [::bench::tcp::Status VmRSS]
		set t0 [clock microseconds]
	    }
	    puts $node go
	    while {[string is integer $accepted] && $accepted < $want
		    && ![llength $failures]} {
		vwait ::bench::tls::accepted
	    }
	    set t1 [clock microseconds]
	    if {$accepted ne $want} {
		error "$accepted of $want accepted; failures: $failures"
	    }
	    ::bench::tcp::Expect $node "up *" $limit
	}
	Settle 500
	set rss1 [::bench::tcp::Status VmRSS]
    } msg]
    after cancel $watchdog
    set phase closing
    set out [join [lmap node $clients {::bench::tcp::Reap $node 5}] \n]
    $srv close
    if {$code} {
	return -code error "$scenario: $msg; clients printed: $out"
    }
    set seconds [expr {($t1 - $t0) / 1e6}]
    return [dict create scenario $scenario count $count window $window \
	    seconds $seconds rate [expr {$count / $seconds}] \
	    kibPerConn [expr {($rss1 - $rss0) / double($count)}] \
	    tickGapMs -1 \
	    peakRssMiB [expr {[::bench::tcp::Status VmHWM] / 1024.0}]]
}

# ----------------------------------------------------------------------
# The lines and bulk scenarios: the peer sends, a Tcl proc receives (the
# callbacks are tcp.tcl's: ::TclLines, ::TclBulk, ::CourierFirst, ...).
# ----------------------------------------------------------------------

# The tls package doing the same work as courier's proc per line: its
# gets loop calls the proc that courier calls (::bench::lines::count).
proc ::TclLinesProc {chan} {
    if {!$::t0} {
	set ::t0 [clock microseconds]
	::bench::tcp::StartProbe
    }
    while {[gets $chan line] >= 0} {
	::bench::lines::count $chan $line
    }
    set ::n $::bench::lines::n
    if {$::n >= $::N} {
	set ::t1 [clock microseconds]
	set ::done 1
    } elseif {[eof $chan]} {
	set ::done eof
    }
}

# bench::tls::Receive scenario certdir count limit --
#	Connects to a sending peer (count lines, or count MiB), lets it go
#	once the handshake is done and counts until the last line or byte
#	has reached the callback; the clock starts at the first delivery.
proc ::bench::tls::Receive {scenario certdir count limit} {
    lassign [split $scenario -] kind mech variant
    set ca [file join $certdir ca.pem]
    if {$kind eq "lines"} {
	set ::N $count
    } else {
	set ::N [expr {$count * 1024 * 1024}]
    }
    set ::n 0
    set ::t0 0
    set ::done 0
    lassign [Peer $limit send $certdir $kind $count] peer port
    set watchdog [after [expr {int($limit * 1000)}] {set ::done timeout}]
    if {$mech eq "tcltls"} {
	package require tls
	set s [tls::socket -cafile $ca -require 1 -servername localhost \
		127.0.0.1 $port]
	tls::handshake $s
	if {$kind eq "lines"} {
	    fconfigure $s -blocking 0 -translation auto -encoding utf-8 \
		    -buffersize 65536
	    fileevent $s readable [list [expr {$variant eq "proc"
		    ? "::TclLinesProc" : "::TclLines"}] $s]
	} else {
	    fconfigure $s -blocking 0 -translation binary -buffersize 65536
	    fileevent $s readable [list ::TclBulk $s]
	}
	::bench::tcp::WarmUp 500
	set cpu0 [list [ThreadCpu] [ProcessCpu]]
	puts -nonewline $s "go\n"
	flush $s
    } else {
	package require courier
	set opts [dict get {
	    lines-courier {-framing line
		-ondata {::CourierFirst ::bench::lines::count}
		-onclose ::CourierLinesClosed}
	    lines-batch {-framing line -batch 1
		-ondata {::CourierFirst ::CourierBatch}
		-onclose ::CourierClosed}
	    bulk-courier {-framing raw -ondata {::CourierFirst ::CourierRaw}
		-onclose ::CourierClosed}
	} $scenario]
	set s [courier::connect 127.0.0.1 $port -tls 1 -cafile $ca \
		-servername localhost {*}$opts \
		-onconnect {apply {{c} { set ::connected 1 }}}]
	vwait ::connected
	::bench::tcp::WarmUp 500
	set cpu0 [list [ThreadCpu] [ProcessCpu]]
	$s send [expr {$kind eq "lines" ? "go" : "go\n"}]
    }
    vwait ::done
    lassign $cpu0 tcpu0 pcpu0
    set tclCpu [expr {([ThreadCpu] - $tcpu0) / 1e6}]
    set procCpu [expr {([ProcessCpu] - $pcpu0) / 1e6}]
    after cancel $watchdog
    set gap [::bench::tcp::StopProbe $::t1]
    if {$::done ne "1"} {
	set out [::bench::tcp::Reap $peer 5]
	return -code error "$scenario: stopped ($::done) after $::n of\
		$::N [expr {$kind eq "lines" ? "lines" : "bytes"}];\
		peer printed: $out"
    }
    if {$mech eq "tcltls"} {
	close $s
    } else {
	$s close
    }
    set out [::bench::tcp::Reap $peer 10]
    set seconds [expr {($::t1 - $::t0) / 1e6}]
    set result [dict create scenario $scenario count $count \
	    seconds $seconds tickGapMs $gap tclCpuMs $tclCpu \
	    procCpuMs $procCpu \
	    peakRssMiB [expr {[::bench::tcp::Status VmHWM] / 1024.0}]]
    if {$kind eq "lines"} {
	dict set result rate [expr {$::N / $seconds}]
    } else {
	dict set result rate [expr {$::N / $seconds / 1e6}]
    }
    if {[regexp {sent (\d+) ([\d.e-]+)} $out -> bytes secs]} {
	dict set result peerSeconds $secs
    }
    return $result
}

# bench::tls::Limit count --
#	The ceiling of any delivery into a proc per line: a compiled loop
#	calling the per-line proc of lines-courier count times, with no
#	I/O, no TLS and no event loop (inbox.tcl's "dispatch limit").
proc ::bench::tls::Limit {count} {
    set line 0123456789abcdefghi
    ::bench::tcp::WarmUp 500
    set t0 [clock microseconds]
    for {set i 0} {$i < $count} {incr i} {
	::bench::lines::count c $line
    }
    set seconds [expr {([clock microseconds] - $t0) / 1e6}]
    if {$::bench::lines::n != $count} {
	return -code error "lines-limit: counted $::bench::lines::n of $count"
    }
    return [dict create scenario lines-limit count $count seconds $seconds \
	    rate [expr {$count / $seconds}] tickGapMs [expr {$seconds * 1e3}] \
	    tclCpuMs [expr {$seconds * 1e3}] procCpuMs [expr {$seconds * 1e3}] \
	    peakRssMiB [expr {[::bench::tcp::Status VmHWM] / 1024.0}]]
}

# bench::tls::child scenario certdir count limit --
#	The main of a child.
proc ::bench::tls::child {scenario args} {
    switch -glob -- $scenario {
	gap-* - conns-* { set r [Handshakes $scenario {*}$args] }
	server-* { set r [Server $scenario {*}$args] }
	lines-limit { set r [Limit [lindex $args 1]] }
	lines-* - bulk-* { set r [Receive $scenario {*}$args] }
	default {
	    return -code error "usage: tls.tcl scenario certdir count limit"
	}
    }
    puts [list result $r]
}

# ----------------------------------------------------------------------
# The driver side: one child per scenario and round, then the tables.
# ----------------------------------------------------------------------

# bench::tls::Counts --
#	Per group: the count (connections, lines or MiB) and the rounds.
proc ::bench::tls::Counts {} {
    set r $::bench::repeat
    if {$::bench::quick} {
	return [dict create gap {50 1} conns {100 1} server {100 1} \
		lines {100000 1} bulk {32 1}]
    }
    # The tls package makes about 40 connections a second here (it parses
    # the system's CA bundle for each one), and each child takes a second
    # or so to start its peer and warm up: 3 rounds keep the whole run
    # near 90 s on a quiet machine.
    set r [expr {min($r, 3)}]
    return [dict create gap [list 200 $r] conns [list 200 $r] \
	    server [list 200 $r] lines [list 1000000 $r] bulk [list 256 $r]]
}

# The figure each scenario's median run is chosen by.
proc ::bench::tls::MedianKey {group} {
    dict get {gap tickGapMs conns rate server rate lines rate bulk rate} \
	    $group
}

# bench::tls::run --
#	Called by run.tcl.
proc ::bench::tls::run {} {
    variable scenarios
    variable script
    foreach {what how} {
	node "node (Node.js) is not installed: it runs the TLS server"
	openssl "the openssl command is not installed: it makes the\
		certificates"
    } {
	if {[auto_execok $what] eq ""} {
	    return -code error $how
	}
    }
    if {[catch {package require tls} msg]} {
	return -code error "the tls package (Debian tcl-tls), the\
		comparison, is not installed: $msg"
    }
    set limit [expr {max(10, $::bench::timeout - 10)}]
    set counts [Counts]
    set tmp [expr {[info exists ::env(TMPDIR)] ? $::env(TMPDIR) : "/tmp"}]
    set certdir [file join $tmp courier-tlsbench-[pid]]
    file mkdir $certdir
    set code [catch {
	# The test suite's certificates (tests/tlscerts.tcl): ca.pem, and
	# server.pem with server.key for localhost and 127.0.0.1.
	source [file join [file dirname $::bench::tls::dir] tests tlscerts.tcl]
	tlscerts::make $certdir
	puts "clients of one Node.js [exec node --version] TLS server\
		(bench/tls_peer.js) in a process of its own over 127.0.0.1,\
		TLS 1.3, EC P-256 certificate, verified; each scenario in its\
		own tclsh; tls package [package present tls] against\
		courier; [lindex [dict get $counts gap] 1] rounds, the\
		median run of each scenario kept"
	set load0 [::bench::loadAverage]
	array set runs {}
	set failures {}
	set rounds [tcl::mathfunc::max {*}[lmap {g c} $counts {
	    lindex $c 1
	}]]
	# Rounds go through every scenario in turn, so that a slow spell
	# of the machine hits them all alike.
	for {set round 0} {$round < $rounds} {incr round} {
	    foreach {key group mech label} $scenarios {
		lassign [dict get $counts $group] count max
		if {$round >= $max} {
		    continue
		}
		if {[catch {::bench::child $script $key $certdir $count \
			$limit} r]} {
		    lappend failures $key $r
		    continue
		}
		lappend runs($key) $r
	    }
	}
	set load1 [::bench::loadAverage]
    } msg opts]
    file delete -force $certdir
    if {$code} {
	return -options $opts $msg
    }
    # Each scenario's median run, with the range of its figure over the
    # rounds.
    set results {}
    foreach {key group mech label} $scenarios {
	if {[info exists runs($key)]} {
	    set field [MedianKey $group]
	    set r [::bench::median $runs($key) $field]
	    set v [lsort -real [lmap x $runs($key) {dict get $x $field}]]
	    dict set r range [format "%s %.1f .. %.1f (%d rounds)" $field \
		    [lindex $v 0] [lindex $v end] [llength $v]]
	    dict set results $key $r
	}
    }
    set rows [Rows $results]
    Tables $rows $counts
    puts "\nload average (1 min): $load0 before, $load1 after (2 cores;\
	    the benchmark keeps 1-2 busy)"
    puts "\nover the rounds (min .. max):"
    dict for {key r} $results {
	puts [format "  %-22s %s" $key [dict get $r range]]
    }
    foreach {key r} $failures {
	puts "\n$key FAILED: $r"
    }
    Targets $results
    lappend rows [list load machine "1-min load average" before $load0 \
	    load "" "" "" ""] [list load machine "1-min load average" \
	    after $load1 load "" "" "" ""]
    ::bench::saveResults tls.csv {key group scenario metric value unit
	vs_tcltls tick_gap_ms peak_rss_mib count} $rows \
	[expr {[dict size $results] == [llength $scenarios] / 4}]
    ::bench::failIfAny $failures
}

# bench::tls::Base key --
#	The tls package's scenario of key's group.
proc ::bench::tls::Base {key} {
    return [lindex [split $key -] 0]-tcltls
}

# bench::tls::Vs results key base field --
#	Ratio's figure as the CSV has it (three decimals), or "".
proc ::bench::tls::Vs {results key base field} {
    set v [Ratio $results $key $base $field]
    if {$v eq ""} {
	return ""
    }
    return [format %.3f $v]
}

# bench::tls::Rows --
#	One row per figure, the CSV's columns: key group label metric
#	value unit vsTcltls tickGap peakRss count.
proc ::bench::tls::Rows {results} {
    variable scenarios
    set rows {}
    foreach {key group mech label} $scenarios {
	if {![dict exists $results $key]} {
	    continue
	}
	set r [dict get $results $key]
	set base [Base $key]
	set peak [format %.1f [dict get $r peakRssMiB]]
	set gap [expr {[dict get $r tickGapMs] < 0 ? ""
		: [format %.1f [dict get $r tickGapMs]]}]
	set count [dict get $r count]
	switch -- $group {
	    gap {
		lappend rows [list $key $group $label tick_gap $gap ms \
			[Vs $results $key $base tickGapMs] $gap $peak \
			$count] \
			[list $key $group $label own_gap \
			[format %.1f [dict get $r ownGapMs]] ms "" $gap $peak \
			$count] \
			[list $key $group $label burst_handshakes \
			[format %.0f [dict get $r rate]] handshakes/s \
			[Vs $results $key $base rate] $gap $peak $count] \
			[list $key $group $label tcl_thread_cpu \
			[format %.1f [dict get $r tclCpuMs]] ms \
			[Vs $results $key $base tclCpuMs] $gap $peak $count]
	    }
	    conns - server {
		lappend rows [list $key $group $label handshakes \
			[format %.0f [dict get $r rate]] handshakes/s \
			[Vs $results $key $base rate] $gap $peak $count] \
			[list $key $group $label rss_per_idle_conn \
			[format %.1f [dict get $r kibPerConn]] KiB \
			[Vs $results $key $base kibPerConn] "" $peak \
			$count]
	    }
	    lines - bulk {
		lappend rows [list $key $group $label rate \
			[format [expr {$group eq "lines" ? "%.0f" : "%.1f"}] \
			[dict get $r rate]] \
			[dict get {lines lines/s bulk MB/s} $group] \
			[Vs $results $key $base rate] $gap $peak $count]
		# CPU per million lines or per MiB: the Tcl thread's, and
		# the whole receiving process's (all its threads).
		set per [expr {$group eq "lines" ? $count / 1e6 : $count}]
		set unit [dict get {lines "ms/M lines" bulk ms/MiB} $group]
		foreach {metric field} {
		    tcl_thread_cpu tclCpuMs process_cpu procCpuMs
		} {
		    dict set r ${field}Per [expr {[dict get $r $field] / $per}]
		    lappend rows [list $key $group $label $metric \
			    [format %.2f [dict get $r ${field}Per]] $unit \
			    [Vs $results $key $base $field] \
			    $gap $peak $count]
		}
	    }
	}
    }
    return $rows
}

# bench::tls::Tables --
#	The rows, one small table per group.
proc ::bench::tls::Tables {rows counts} {
    set x {apply {{v} {expr {$v eq "" ? "-" : [format %.2fx $v]}}}}
    set byKey {}
    foreach row $rows {
	dict set byKey [lindex $row 0] [lindex $row 3] $row
    }
    set keys [lmap {key group mech label} $::bench::tls::scenarios {
	if {![dict exists $byKey $key]} continue
	set key
    }]
    foreach {group title header fields} {
	gap "handshakes started at once from one loop:\
	    the measuring thread's largest `after 10` gap until all are\
	    done, the same less that thread's wait for a CPU, and the CPU\
	    time the thread used meanwhile (vs tls pkg: lower is better)"
	    {scenario "gap ms" "vs tls pkg" "less CPU wait" "handshakes/s"
		"vs tls pkg" "Tcl thread CPU ms" "peak RSS MiB"}
	    {tick_gap* own_gap burst_handshakes* tcl_thread_cpu}
	conns "new connections, full handshakes, 50 in flight,\
	    then idle (vs tls pkg: lower is better for memory)"
	    {scenario "handshakes/s" "vs tls pkg" "KiB per idle conn"
		"vs tls pkg" "peak RSS MiB"}
	    {handshakes* rss_per_idle_conn*}
	server "connections accepted by a courier TLS listener from a\
	    Node.js client process, 50 in flight, then idle"
	    {scenario "handshakes/s" "KiB per idle conn" "peak RSS MiB"}
	    {handshakes rss_per_idle_conn}
	lines "lines of 20 bytes into a Tcl callback (vs tls pkg: its\
	    gets loop)"
	    {scenario lines/s "vs tls pkg" "Tcl thread CPU ms/M"
		"process CPU ms/M" "tick gap ms" "peak RSS MiB"}
	    {rate* tcl_thread_cpu process_cpu}
	bulk "MiB into a Tcl callback (MB = 10^6 bytes)"
	    {scenario MB/s "vs tls pkg" "Tcl thread CPU ms/MiB"
		"process CPU ms/MiB" "tick gap ms" "peak RSS MiB"}
	    {rate* tcl_thread_cpu process_cpu}
    } {
	set trows {}
	foreach key $keys {
	    if {![string match $group-* $key]} {
		continue
	    }
	    set cells {}
	    # A field name ending in * is shown with its ratio.
	    foreach field $fields {
		set metric [string trimright $field *]
		lassign [dict get $byKey $key $metric] - - label - value - v \
			gap peak
		if {![llength $cells]} {
		    lappend cells $label
		}
		lappend cells $value
		if {$metric ne $field} {
		    lappend cells [{*}$x $v]
		}
	    }
	    if {$group in {lines bulk}} {
		lappend cells $gap
	    }
	    lappend trows [lappend cells $peak]
	}
	if {[llength $trows]} {
	    puts "\n$group: [lindex [dict get $counts $group] 0] $title"
	    ::bench::table $header $trows
	}
    }
}

# bench::tls::Targets --
#	The issue's targets, met or MISSED, with the figures.
proc ::bench::tls::Targets {results} {
    variable targets
    puts "\ntargets of the issue:"
    set verdicts {}
    set max [dict get $targets gapMs]
    if {[dict exists $results gap-courier]} {
	set g [dict get $results gap-courier tickGapMs]
	set others [lmap key {gap-tcltls gap-tcltls-nobundle} {
	    expr {[dict exists $results $key]
		    ? [format %.1f [dict get $results $key tickGapMs]] : "?"}
	}]
	lappend verdicts [Verdict "after-10 gap during handshakes <= $max ms" \
		[expr {$g <= $max}] [format "%.1f ms, less CPU wait %.1f,\
		connect loop %.1f ms; tls package %s ms, without the CA\
		bundle %s ms" $g [dict get $results gap-courier ownGapMs] \
		[dict get $results gap-courier loopMs] {*}$others]]
    } else {
	lappend verdicts [Verdict "after-10 gap during handshakes <= $max ms" \
		0 "no result"]
    }
    foreach {key what target} {
	bulk-courier "bulk MB/s" bulkRatio
	lines-courier "lines, proc per line" lineRatio
    } {
	set min [dict get $targets $target]
	set v [Ratio $results $key [Base $key] rate]
	lappend verdicts [Verdict "$what >= ${min}x tls package" \
		[expr {$v ne "" && $v >= $min}] \
		[expr {$v eq "" ? "no result" : [format %.2fx $v]}]]
    }
    set max [dict get $targets rssKiB]
    if {[dict exists $results conns-courier]
	    && [dict exists $results server-courier]} {
	set k [dict get $results conns-courier kibPerConn]
	set ks [dict get $results server-courier kibPerConn]
	lappend verdicts [Verdict "RSS per idle TLS connection <= $max KiB" \
		[expr {$k <= $max && $ks <= $max}] \
		[format "client %.1f KiB, server %.1f KiB" $k $ks]]
    } else {
	lappend verdicts [Verdict "RSS per idle TLS connection <= $max KiB" \
		0 "no result"]
    }
    set met [llength [lsearch -all $verdicts 1]]
    puts "targets: $met of [llength $verdicts] met"
    # The lines target is against a gets loop that calls no proc: what
    # a proc per line costs by itself, and the same work in the package.
    set same [Ratio $results lines-courier lines-tcltls-proc rate]
    set limit [Ratio $results lines-limit lines-tcltls rate]
    set share [Ratio $results lines-courier lines-limit rate]
    if {$same ne "" && $limit ne "" && $share ne ""} {
	puts [format "lines: %.2fx the tls package's gets loop calling the\
		same proc per line; a Tcl loop calling that proc with no I/O\
		at all makes %.2fx its gets loop, and courier %.0f %% of that" \
		$same $limit [expr {$share * 100}]]
    }
    foreach key {conns-tcltls conns-tcltls-nobundle} what {
	"the tls package's" "without the CA bundle"
    } {
	set v [Ratio $results conns-courier $key rate]
	if {$v ne ""} {
	    puts [format "handshakes/s (no target): %.0f against %s %.0f,\
		    %.2fx; RSS per idle connection %.1f against %.1f KiB;\
		    sessions reused %d and %d" \
		    [dict get $results conns-courier rate] $what \
		    [dict get $results $key rate] $v \
		    [dict get $results conns-courier kibPerConn] \
		    [dict get $results $key kibPerConn] \
		    [dict get $results conns-courier reused] \
		    [dict get $results $key reused]]
	}
    }
}

# Run as a script: be the child.
if {[info exists ::argv0]
	&& [file normalize $::argv0] eq $::bench::tls::script} {
    ::bench::tls::child {*}$::argv
    exit 0
}
