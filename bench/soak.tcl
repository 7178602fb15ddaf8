# soak.tcl --
#
#	A long run of mixed load against one Courier process (not in CI:
#	`make soak SOAK_MINUTES=10`). The process under test, the hub, runs
#	echo listeners; peer processes (tclsh with Courier) keep N
#	connections busy between them:
#	  - every framing (line, length, raw), chosen at random per
#	    connection, with and without -batch;
#	  - random message sizes, from 1 byte to 256 KiB (most small);
#	  - each message carries its connection id, a sequence number and the
#	    CRC-32 of its body: the hub checks every message it receives
#	    (order, content) before it echoes it, and the peer checks every
#	    echo against what it sent (raw framing: the whole echoed stream
#	    against the stream sent);
#	  - a window of messages in flight per connection; random graceful
#	    closes (once every echo is back) and reconnects;
#	  - slow consumers both ways: some connections go to a hub listener
#	    whose callback burns CPU per message (-maxpending small: TCP holds
#	    the peer back), and some peers stop reading for a while ($c pause)
#	    so that the hub's output to them backs up (-sendbuffer, -ondrain).
#	The hub samples its resident memory, its open descriptors and the
#	worst lateness of an `after 10` timer every few seconds. At the end
#	the peers finish what is in flight, close, and report; the hub prints
#	the totals (sent, received, lost, corrupt) and writes
#	bench/results/soak.csv.
#
#	Usage:	tclsh bench/soak.tcl ?-minutes M? ?-connections N?
#			?-peers P? ?-sample seconds? ?-csv file?
#	The exit status is 0 when nothing was lost or corrupted.
#
#	run.tcl sources every script of bench/: then this file only defines
#	::bench::soak::run, which says that the soak runs on its own.

namespace eval ::bench::soak {
    variable script [file normalize [info script]]
}

proc ::bench::soak::run {} {
    puts "soak: not part of make bench (it runs for minutes): make soak"
}

if {![info exists ::argv0]
	|| [file normalize $::argv0] ne $::bench::soak::script} {
    return
}

# Started by hand rather than by make: find the package in the source tree.
if {![info exists ::env(TCLLIBPATH)]} {
    set ::env(TCLLIBPATH) [list [file dirname [file dirname $::bench::soak::script]]]
    lappend ::auto_path {*}$::env(TCLLIBPATH)
}
package require courier

#======================================================================
# Shared: messages.
#======================================================================

namespace eval ::soak {
    variable maxBody [expr {256 * 1024}]
}

# soak::size --
#	A random body size: 70 % up to 256 bytes, 25 % up to 8 KiB, 5 % up
#	to 256 KiB.
proc ::soak::size {} {
    set r [expr {rand()}]
    if {$r < 0.70} {
	return [expr {1 + int(rand() * 256)}]
    } elseif {$r < 0.95} {
	return [expr {256 + int(rand() * 8192)}]
    }
    return [expr {8192 + int(rand() * (256 * 1024 - 8192))}]
}

# soak::parse m --
#	{id seq crc body} of a message "id seq crc|body" (a byte array), or
#	{} when the header is malformed. Only byte operations: a string
#	operation on the message would convert 256 KiB to characters and
#	back, and measure Tcl's shimmering instead of the event loop.
proc ::soak::parse {m} {
    set head [string range $m 0 39]
    set bar [string first | $head]
    if {$bar < 0
	    || ![regexp {^(\d+) (\d+) (\d+)$} [string range $head 0 $bar-1] \
		-> id seq crc]} {
	return {}
    }
    return [list $id $seq $crc [string range $m $bar+1 end]]
}

# soak::message id seq body --
#	The message "id seq crc|body", as a byte array.
proc ::soak::message {id seq body} {
    binary format a*a* "$id $seq [zlib crc32 $body]|" $body
}

#======================================================================
# The hub: the process under test.
#======================================================================

namespace eval ::soak::hub {
    variable expect		;# Array conn -> next sequence number.
    variable count		;# Array of counters.
    array set count {
	received 0 echoed 0 corrupt 0 outOfOrder 0 rawBytes 0 slowBurnMs 0
	accepted 0 closed 0 drains 0 bytesIn 0 longestUs 0 errors 0
    }
    variable lag {worst 0 intervalWorst 0 due 0}
    variable samples {}
    variable peers {}		;# Pipes to the peer processes.
    variable results {}		;# Their result dicts.
}

# Echo of a framed message: check it, count it, send it back.
proc ::soak::hub::check {c m} {
    variable expect
    variable count
    incr count(bytesIn) [string length $m]
    set p [::soak::parse $m]
    if {$p eq ""} {
	incr count(corrupt)
	return
    }
    lassign $p id seq crc body
    if {![info exists expect($c)]} {
	set expect($c) 0
    }
    if {$seq != $expect($c)} {
	incr count(outOfOrder)
    }
    set expect($c) [expr {$seq + 1}]
    if {[zlib crc32 $body] != $crc} {
	incr count(corrupt)
    }
    incr count(received)
    $c send $m
    incr count(echoed)
}

proc ::soak::hub::ondata {c m} {
    variable count
    set t [clock microseconds]
    check $c $m
    set t [expr {[clock microseconds] - $t}]
    if {$t > $count(longestUs)} {
	set count(longestUs) $t
    }
}
proc ::soak::hub::onbatch {c ms} {
    variable count
    set t [clock microseconds]
    foreach m $ms {
	check $c $m
    }
    set t [expr {[clock microseconds] - $t}]
    if {$t > $count(longestUs)} {
	set count(longestUs) $t
    }
}
# The slow consumer: about 1 ms of CPU per message.
proc ::soak::hub::onslow {c m} {
    variable count
    set end [expr {[clock microseconds] + 1000}]
    while {[clock microseconds] < $end} {}
    incr count(slowBurnMs)
    check $c $m
}
# Raw framing: no messages, a stream echoed as it comes.
proc ::soak::hub::onraw {c m} {
    variable count
    incr count(rawBytes) [string length $m]
    incr count(bytesIn) [string length $m]
    $c send $m
}
proc ::soak::hub::onaccept {s c host port} {
    variable count
    incr count(accepted)
}
proc ::soak::hub::onclose {c reason} {
    variable expect
    variable count
    incr count(closed)
    if {[lindex $reason 0] ne "eof"} {
	incr count(badClose)
	puts "hub: $c closed: $reason"
    }
    unset -nocomplain expect($c)
    $c close
}
proc ::soak::hub::ondrain {c} {
    variable count
    incr count(drains)
}

# The `after 10` ticker: the worst lateness, overall and per interval.
proc ::soak::hub::tick {} {
    variable lag
    set now [clock microseconds]
    if {[dict get $lag due] != 0} {
	set late [expr {($now - [dict get $lag due]) / 1000.0}]
	if {$late > [dict get $lag worst]} {
	    dict set lag worst $late
	}
	if {$late > [dict get $lag intervalWorst]} {
	    dict set lag intervalWorst $late
	}
    }
    dict set lag due [expr {$now + 10000}]
    after 10 ::soak::hub::tick
}

proc ::soak::hub::rssKiB {} {
    set f [open /proc/self/status]
    regexp {VmRSS:\s+(\d+)} [read $f] -> kb
    close $f
    return $kb
}
proc ::soak::hub::fds {} {
    llength [glob -nocomplain /proc/self/fd/*]
}
proc ::soak::hub::openConns {} {
    llength [info commands {::courier::conn[0-9]*}]
}

proc ::soak::hub::sample {t0 every} {
    variable samples
    variable count
    variable lag
    set row [list [expr {([clock milliseconds] - $t0) / 1000}] [rssKiB] \
	    [fds] [openConns] $count(received) $count(echoed) \
	    [format %.1f [expr {$count(bytesIn) / 1048576.0}]] \
	    [format %.1f [dict get $lag intervalWorst]]]
    dict set lag intervalWorst 0
    # No message for a minute while the peers run: the run has stalled.
    variable lastProgress
    if {![info exists lastProgress]
	    || [lindex $lastProgress 0] != $count(received) + $count(rawBytes)} {
	set lastProgress [list [expr {$count(received) + $count(rawBytes)}] \
		[clock milliseconds]]
    } elseif {[clock milliseconds] - [lindex $lastProgress 1] > 60000
	    && ![info exists ::soak::hub::stop]} {
	puts "hub: no progress for 60 s: stopping"
	set ::soak::hub::stalled 1
	set ::soak::hub::stop 1
    }
    lappend samples $row
    puts "hub: t=[lindex $row 0]s rss=[lindex $row 1]KiB fds=[lindex $row 2]\
	    conns=[lindex $row 3] msgs=[lindex $row 4]\
	    in=[lindex $row 6]MiB lag=[lindex $row 7]ms"
    after [expr {$every * 1000}] [list ::soak::hub::sample $t0 $every]
}

proc ::soak::hub::main {argv} {
    variable peers
    variable results
    variable samples
    variable count
    variable lag
    array set opt {-minutes 10 -connections 200 -peers 2 -sample 10 -csv ""}
    foreach {k v} $argv {
	if {![info exists opt($k)]} {
	    puts stderr "usage: tclsh soak.tcl ?-minutes M? ?-connections N?\
		    ?-peers P? ?-sample seconds? ?-csv file?"
	    exit 2
	}
	set opt($k) $v
    }
    if {$opt(-csv) eq ""} {
	set opt(-csv) [file join [file dirname $::bench::soak::script] \
		results soak.csv]
    }
    fconfigure stdout -buffering line
    # An error in a callback is a failure of the run: counted, shown.
    interp bgerror {} [list apply {{msg opts} {
	incr ::soak::hub::count(errors)
	puts "hub: error: [dict get $opts -errorinfo]"
    }}]
    set common {-onaccept ::soak::hub::onaccept -onclose ::soak::hub::onclose
	-ondrain ::soak::hub::ondrain -sendbuffer 262144}
    set ports {}
    foreach {name opts} {
	line	{-framing line -encoding binary -ondata ::soak::hub::ondata}
	lineB	{-framing line -encoding binary -batch 1 -ondata ::soak::hub::onbatch}
	length	{-framing length -ondata ::soak::hub::ondata}
	lengthB	{-framing length -batch 1 -ondata ::soak::hub::onbatch}
	raw	{-framing raw -ondata ::soak::hub::onraw}
	slow	{-framing length -maxpending 65536 -ondata ::soak::hub::onslow}
    } {
	set s [courier::listen 0 {*}$common {*}$opts]
	lappend ports $name [$s port]
    }
    puts "hub: pid [pid], listeners $ports"
    puts "hub: $opt(-connections) connections from $opt(-peers) peer\
	    processes for $opt(-minutes) min"
    set per [expr {$opt(-connections) / $opt(-peers)}]
    for {set i 0} {$i < $opt(-peers)} {incr i} {
	set chan [open |[list [info nameofexecutable] $::bench::soak::script \
		-peer $i $per $ports 2>@stderr] r+]
	fconfigure $chan -blocking 0 -buffering line
	fileevent $chan readable [list ::soak::hub::fromPeer $chan]
	lappend peers $chan
    }
    set t0 [clock milliseconds]
    tick
    after 0 [list ::soak::hub::sample $t0 $opt(-sample)]
    after [expr {int($opt(-minutes) * 60000)}] {set ::soak::hub::stop 1}
    vwait ::soak::hub::stop
    puts "hub: stopping the peers"
    set stopAt [clock milliseconds]
    foreach chan $peers {
	puts $chan stop
	flush $chan
    }
    after 120000 {set ::soak::hub::finished timeout}
    while {[llength $results] < [llength $peers]
	    && ![info exists ::soak::hub::finished]} {
	vwait ::soak::hub::results
    }
    # The hub closes its side of each connection when the peer's EOF
    # comes: wait for every one.
    while {[openConns] > 0 && ![info exists ::soak::hub::finished]} {
	after 50 {set ::soak::hub::poll 1}
	vwait ::soak::hub::poll
    }
    cancelTimers
    sample $t0 $opt(-sample)
    cancelTimers
    report $opt(-csv) $opt(-minutes) $opt(-connections) $opt(-peers)
}

proc ::soak::hub::cancelTimers {} {
    foreach id [after info] {
	after cancel $id
    }
}

proc ::soak::hub::fromPeer {chan} {
    variable results
    if {[gets $chan line] < 0} {
	if {[eof $chan]} {
	    fileevent $chan readable {}
	}
	return
    }
    if {[lindex $line 0] eq "result"} {
	lappend results [lindex $line 1]
    } else {
	puts $line
    }
}

proc ::soak::hub::report {csv minutes connections npeers} {
    variable results
    variable samples
    variable count
    variable lag
    set total [dict create sent 0 echoed 0 lost 0 corrupt 0 outOfOrder 0 \
	    rawSent 0 rawEchoed 0 rawBad 0 connections 0 pauses 0 \
	    bytesSent 0 badClose 0]
    foreach r $results {
	dict for {k v} $r {
	    dict incr total $k $v
	}
    }
    # Framed messages: sent by the peers, checked by the hub, echoed,
    # checked again by the peers. Raw: streams compared whole.
    set lostToHub [expr {[dict get $total sent] - $count(received)}]
    set lostBack [expr {$count(echoed) - [dict get $total echoed]}]
    set lost [expr {$lostToHub + $lostBack + [dict get $total lost]
	    + [dict get $total rawBad]}]
    set corrupt [expr {$count(corrupt) + $count(outOfOrder)
	    + [dict get $total corrupt] + [dict get $total outOfOrder]}]
    # Flatness: from the end of the first minute (warm-up) to the stop,
    # RSS and fds.
    set steady [lmap s $samples {
	if {[lindex $s 0] < 60 || [lindex $s 0] >= $minutes * 60} continue
	set s
    }]
    if {![llength $steady]} {
	set steady $samples
    }
    set rss [lmap s $steady {lindex $s 1}]
    set fd [lmap s $steady {lindex $s 2}]
    set summary [dict create \
	    minutes $minutes connections $connections peers $npeers \
	    peerConnectionsOpened [dict get $total connections] \
	    hubAccepted $count(accepted) \
	    messagesSent [dict get $total sent] \
	    messagesReceivedByHub $count(received) \
	    echoesReceived [dict get $total echoed] \
	    lost $lost corrupt $corrupt errors $count(errors) \
	    stalled [info exists ::soak::hub::stalled] \
	    rawStreams [dict get $total rawSent] \
	    rawStreamsBad [dict get $total rawBad] \
	    mibIn [format %.1f [expr {$count(bytesIn) / 1048576.0}]] \
	    hubDrains $count(drains) peerPauses [dict get $total pauses] \
	    slowConsumerMessages $count(slowBurnMs) \
	    badCloses [expr {[dict get $total badClose]
		    + ([info exists count(badClose)] ? $count(badClose) : 0)}] \
	    rssKiBSteadyMin [tcl::mathfunc::min {*}$rss] \
	    rssKiBSteadyMax [tcl::mathfunc::max {*}$rss] \
	    rssKiBFirst [lindex $rss 0] rssKiBLast [lindex $rss end] \
	    fdsSteadyMin [tcl::mathfunc::min {*}$fd] \
	    fdsSteadyMax [tcl::mathfunc::max {*}$fd] \
	    fdsAtEnd [lindex $samples end 2] \
	    worstLagMs [format %.1f [dict get $lag worst]] \
	    longestDrainMs [format %.1f [expr {[dict get [courier::stats] longestDrainUs] / 1000.0}]] \
	    longestCallbackMs [format %.1f [expr {$count(longestUs) / 1000.0}]]]
    puts "\nsoak summary:"
    dict for {k v} $summary {
	puts [format "  %-24s %s" $k $v]
    }
    file mkdir [file dirname $csv]
    set f [open $csv w]
    puts $f "kind,t_s,rss_kib,fds,connections,msgs_received,msgs_echoed,mib_in,lag_worst_ms"
    foreach s $samples {
	puts $f "sample,[join $s ,]"
    }
    dict for {k v} $summary {
	puts $f "summary,$k,$v,,,,,,"
    }
    close $f
    puts "wrote $csv"
    exit [expr {$lost == 0 && $corrupt == 0 && $count(errors) == 0
	    && ![info exists ::soak::hub::stalled] ? 0 : 1}]
}

#======================================================================
# A peer: N connections to the hub's listeners, in a process of its own.
#======================================================================

namespace eval ::soak::peer {
    variable conn		;# Array c -> dict of its state.
    variable count
    array set count {
	sent 0 echoed 0 lost 0 corrupt 0 outOfOrder 0 rawSent 0 rawEchoed 0
	rawBad 0 connections 0 pauses 0 bytesSent 0 badClose 0
    }
    variable stopping 0
    variable nextId 0
    variable ports
    variable pool		;# Random bytes (binary bodies).
    variable text		;# Random printable text (line bodies).
}

proc ::soak::peer::main {index n ports} {
    variable pool
    variable text
    expr {srand([pid])}
    set ::soak::peer::ports $ports
    # Bodies are cut from pools of random bytes.
    set b {}
    for {set i 0} {$i < 2 * $::soak::maxBody / 4} {incr i} {
	lappend b [expr {int(rand() * 0x7fffffff) ^ int(rand() * 2) << 31}]
    }
    set pool [binary format I* $b]
    set t ""
    set chars "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\[\]{}\$\\\"; "
    for {set i 0} {$i < 4096} {incr i} {
	append t [string index $chars [expr {int(rand() * [string length $chars])}]]
    }
    set text [string repeat $t [expr {2 * $::soak::maxBody / 4096}]]
    fconfigure stdout -buffering line
    fileevent stdin readable ::soak::peer::fromHub
    for {set i 0} {$i < $n} {incr i} {
	newConn
    }
    vwait forever
}

proc ::soak::peer::fromHub {} {
    variable stopping
    if {[gets stdin line] < 0} {
	if {[eof stdin]} {
	    exit 3			;# The hub is gone.
	}
	return
    }
    if {$line eq "stop"} {
	set stopping 1
	fileevent stdin readable {}
	finishIfDone
    }
}

# soak::peer::newConn --
#	A new connection to a random listener, with a random window.
proc ::soak::peer::newConn {} {
    variable ports
    variable conn
    variable count
    variable nextId
    set kinds {line lineB length lengthB raw slow}
    # Weights: slow consumers are few.
    set r [expr {rand()}]
    if {$r < 0.05} {
	set kind slow
    } else {
	set kind [lindex {line lineB length lengthB raw} [expr {int(rand() * 5)}]]
    }
    set framing [dict get {line line lineB line length length lengthB length
	raw raw slow length} $kind]
    set opts [list -framing $framing]
    if {$framing eq "line"} {
	lappend opts -encoding binary
    }
    set c [courier::connect 127.0.0.1 [dict get $ports $kind] {*}$opts \
	    -onconnect ::soak::peer::onconnect -onclose ::soak::peer::onclose \
	    -ondata [expr {$framing eq "raw" ? "::soak::peer::onraw"
		    : "::soak::peer::ondata"}]]
    incr count(connections)
    # A slow reader: some connections stop reading now and then.
    set slowReader [expr {rand() < 0.1}]
    set conn($c) [dict create id [incr nextId] kind $kind framing $framing \
	    seq 0 inflight {} window [expr {1 + int(rand() * 8)}] \
	    closing 0 open 0 life [expr {20 + int(rand() * 2000)}] \
	    rawSent 0 rawCrc 0 rawEchoed 0 rawEchoCrc 0 \
	    slowReader $slowReader]
}

proc ::soak::peer::onconnect {c} {
    variable conn
    dict set conn($c) open 1
    fill $c
    if {[dict get $conn($c) slowReader]} {
	after [expr {int(rand() * 2000)}] [list ::soak::peer::pauseFor $c]
    }
}

# The slow reader: stop reading for 200 to 1000 ms, then read again.
proc ::soak::peer::pauseFor {c} {
    variable conn
    variable count
    if {![info exists conn($c)] || [dict get $conn($c) closing]} {
	return
    }
    $c pause
    incr count(pauses)
    after [expr {200 + int(rand() * 800)}] [list apply {{c} {
	if {[info exists ::soak::peer::conn($c)]} {
	    $c resume
	    after [expr {int(rand() * 3000)}] [list ::soak::peer::pauseFor $c]
	}
    }} $c]
}

# soak::peer::fill c --
#	Sends until the window is full (framed), or one chunk (raw).
proc ::soak::peer::fill {c} {
    variable conn
    variable count
    variable stopping
    variable pool
    variable text
    set st $conn($c)
    if {$stopping || [dict get $st closing]} {
	return
    }
    while {[llength [dict get $st inflight]] < [dict get $st window]} {
	set size [::soak::size]
	set off [expr {int(rand() * $::soak::maxBody)}]
	if {[dict get $st framing] eq "line"} {
	    set body [string range $text $off [expr {$off + $size - 1}]]
	} else {
	    set body [string range $pool $off [expr {$off + $size - 1}]]
	}
	set seq [dict get $st seq]
	dict set st seq [expr {$seq + 1}]
	if {[dict get $st framing] eq "raw"} {
	    # A stream: what counts is every byte, in order.
	    dict set st rawCrc [zlib crc32 $body [dict get $st rawCrc]]
	    dict incr st rawSent [string length $body]
	    dict lappend st inflight [string length $body]
	} else {
	    set m [::soak::message [dict get $st id] $seq $body]
	    dict lappend st inflight $m
	    set body $m
	}
	$c send $body
	incr count(sent) [expr {[dict get $st framing] ne "raw"}]
	incr count(bytesSent) [string length $body]
    }
    set conn($c) $st
}

proc ::soak::peer::ondata {c m} {
    variable conn
    variable count
    set st $conn($c)
    set inflight [dict get $st inflight]
    set expected [lindex $inflight 0]
    if {![string equal $m $expected]} {
	# Either out of order or changed: tell which.
	if {$m in $inflight} {
	    incr count(outOfOrder)
	} else {
	    incr count(corrupt)
	}
    }
    dict set st inflight [lrange $inflight 1 end]
    incr count(echoed)
    dict incr st life -1
    set conn($c) $st
    next $c
}

proc ::soak::peer::onraw {c m} {
    variable conn
    set st $conn($c)
    dict set st rawEchoCrc [zlib crc32 $m [dict get $st rawEchoCrc]]
    dict incr st rawEchoed [string length $m]
    # Take the chunks of the window that are fully echoed off it.
    set inflight [dict get $st inflight]
    set acked [expr {[dict get $st rawEchoed]
	    - ([dict get $st rawSent] - [tcl::mathop::+ 0 {*}$inflight])}]
    while {[llength $inflight] && $acked >= [lindex $inflight 0]} {
	set acked [expr {$acked - [lindex $inflight 0]}]
	set inflight [lrange $inflight 1 end]
	dict incr st life -1
    }
    dict set st inflight $inflight
    set conn($c) $st
    next $c
}

# soak::peer::next c --
#	After an echo: send more, or close (at random, or when stopping)
#	once everything sent has come back.
proc ::soak::peer::next {c} {
    variable conn
    variable stopping
    set st $conn($c)
    if {$stopping || [dict get $st life] <= 0} {
	dict set conn($c) closing 1
	if {[llength [dict get $st inflight]] == 0} {
	    finish $c
	}
	return
    }
    fill $c
}

# soak::peer::finish c --
#	Every echo is back: account for the connection and close it; a new
#	one replaces it unless the run is stopping.
proc ::soak::peer::finish {c} {
    variable conn
    variable count
    variable stopping
    set st $conn($c)
    if {[dict get $st framing] eq "raw"} {
	incr count(rawSent)
	if {[dict get $st rawSent] != [dict get $st rawEchoed]
		|| [dict get $st rawCrc] != [dict get $st rawEchoCrc]} {
	    incr count(rawBad)
	}
    }
    unset conn($c)
    $c close
    if {!$stopping} {
	after [expr {int(rand() * 100)}] ::soak::peer::newConn
    }
    finishIfDone
}

proc ::soak::peer::onclose {c reason} {
    variable conn
    variable count
    # The hub never closes first: anything here is a failure.
    incr count(badClose)
    puts "peer [pid]: $c closed by the hub: $reason"
    if {[info exists conn($c)]} {
	incr count(lost) [llength [dict get $conn($c) inflight]]
	unset conn($c)
    }
    $c close
    finishIfDone
}

proc ::soak::peer::finishIfDone {} {
    variable stopping
    variable conn
    variable count
    if {!$stopping} {
	return
    }
    # Connections still opening or still waiting for echoes finish later.
    foreach c [array names conn] {
	if {![dict get $conn($c) open]} {
	    # Never opened yet: nothing in flight, just close it.
	    unset conn($c)
	    $c close
	} elseif {[llength [dict get $conn($c) inflight]] == 0} {
	    finish $c
	    return
	} else {
	    dict set conn($c) closing 1
	}
    }
    if {[array size conn] == 0} {
	puts [list result [array get count]]
	exit 0
    }
}

if {[lindex $argv 0] eq "-peer"} {
    ::soak::peer::main {*}[lrange $argv 1 end]
} else {
    ::soak::hub::main $argv
}
