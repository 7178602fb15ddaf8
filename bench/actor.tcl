# actor.tcl --
#
#	Actors against the Thread extension, side by side: how many
#	fire-and-forget messages per second reach Tcl code in another thread
#	(courier tell vs thread::send -async), and how many request/reply
#	round trips per second complete (courier ask vs thread::send -async
#	with a result variable and a write trace), one at a time and with 100
#	in flight. The worker runs the same proc in both, and the caller runs
#	an `after 10` ticker throughout; its largest gap shows whether the
#	mechanism starves the caller's event loop.
#
#	The file has two roles, like inbox.tcl:
#	  - sourced by run.tcl, it defines ::bench::actor::run, which starts
#	    one child per scenario and prints the table;
#	  - run as `tclsh actor.tcl scenario N`, it is that child.

namespace eval ::bench::actor {
    variable script [file normalize [info script]]
    # key label mechanism kind window: each courier scenario is followed
    # by its Thread extension counterpart.
    variable scenarios {
	ctell   "tell, courier"                 courier tell 0
	ttell   "tell, thread::send -async"     thread  tell 0
	cask1   "ask 1 in flight, courier"      courier ask  1
	task1   "ask 1 in flight, thread::send" thread  ask  1
	cask100 "ask 100 in flight, courier"    courier ask  100
	task100 "ask 100 in flight, thread::send" thread ask 100
    }
    # The issue's targets: at least twice the Thread extension, and the
    # caller's ticker never starved (no gap above this).
    variable targets {ratio 2.0 tickGapMs 25.0}
    # The worker's code, the same in both mechanisms.
    variable workerCode {
	proc work {x} { incr ::n }
	set ::n 0
    }
}

# ----------------------------------------------------------------------
# The child: one scenario in this process.
# ----------------------------------------------------------------------

# bench::actor::Probe --
#	The caller's pulse: an `after 10` ticker recording its largest gap.
proc ::bench::actor::StartTicker {} {
    variable tick
    set tick(last) [clock microseconds]
    set tick(gap) 0
    set tick(id) [after 10 ::bench::actor::Tick]
}
proc ::bench::actor::Tick {} {
    variable tick
    set now [clock microseconds]
    set tick(gap) [expr {max($tick(gap), $now - $tick(last))}]
    set tick(last) $now
    set tick(id) [after 10 ::bench::actor::Tick]
}
proc ::bench::actor::StopTicker {} {
    variable tick
    after cancel $tick(id)
    Tick
    after cancel $tick(id)
    return [expr {$tick(gap) / 1000.0}]
}

# bench::actor::Prepare mechanism --
#	Starts the worker (untimed): an actor, or a Thread extension thread.
#	`send` becomes the fire-and-forget command and `request i` the
#	asynchronous request whose reply calls ::bench::actor::Reply.
proc ::bench::actor::Prepare {mechanism} {
    variable workerCode
    variable worker
    if {$mechanism eq "courier"} {
	package require courier
	set worker [courier::actor create worker -init $workerCode]
	interp alias {} ::send {} $worker tell work
	proc ::request {i} {
	    $::bench::actor::worker ask -command ::bench::actor::Reply work $i
	}
	# The final "everything done" question.
	proc ::finish {} {
	    $::bench::actor::worker ask -command {apply {args {
		set ::done 1
	    }}} set ::n
	}
    } else {
	package require Thread
	set worker [thread::create "$workerCode; thread::wait"]
	proc ::send {i} {
	    thread::send -async $::bench::actor::worker [list work $i]
	}
	# Each request's result lands in its own variable; the trace is
	# the callback.
	proc ::request {i} {
	    thread::send -async $::bench::actor::worker [list work $i] \
		    ::bench::actor::result($i)
	}
	trace add variable ::bench::actor::result write \
		[list apply {{name index op} {
		    unset ::bench::actor::result($index)
		    ::bench::actor::Reply ok
		}}]
	proc ::finish {} {
	    thread::send -async $::bench::actor::worker {set ::n} ::done
	}
    }
}

# bench::actor::Feed i N --
#	Tell scenarios: sends messages i..N-1 in slices of 1000, each slice
#	from its own `after 0`, so that the caller's event loop (the ticker)
#	runs between slices; then asks for the final count.
proc ::bench::actor::Feed {i N} {
    set end [expr {min($i + 1000, $N)}]
    for {} {$i < $end} {incr i} {
	send $i
    }
    if {$i < $N} {
	after 0 [list ::bench::actor::Feed $i $N]
    } else {
	finish
    }
}

# bench::actor::Reply args --
#	Ask scenarios: one reply arrived; keep the window full until N
#	requests are sent, and finish when N replies are in.
proc ::bench::actor::Reply {args} {
    variable sent
    variable replies
    variable N
    if {[incr replies] == $N} {
	set ::done 1
    } elseif {$sent < $N} {
	request [incr sent]
    }
}

# bench::actor::WarmUp --
#	Keeps the CPU busy before the clock starts (see inbox.tcl: a fresh
#	process on the benchmark machine runs its first moments slowly).
proc ::bench::actor::WarmUp {ms} {
    set end [expr {[clock milliseconds] + $ms}]
    while {[clock milliseconds] < $end} {}
}

# bench::actor::child scenario N --
#	The child's main: run one scenario, print its result line.
proc ::bench::actor::child {scenario N} {
    variable scenarios
    variable sent
    variable replies
    variable worker
    set found 0
    foreach {key label mechanism kind window} $scenarios {
	if {$key eq $scenario} {
	    set found 1
	    break
	}
    }
    if {!$found || ![string is integer -strict $N] || $N < 100} {
	return -code error "usage: actor.tcl scenario N (N >= 100),\
		scenario one of: [lmap {k l m c w} $scenarios {set k}]"
    }
    Prepare $mechanism
    set ::bench::actor::N $N
    set sent 0
    set replies 0
    set ::done 0
    WarmUp 300
    StartTicker
    set t0 [clock microseconds]
    if {$kind eq "tell"} {
	Feed 0 $N
    } else {
	while {$sent < $window} {
	    request [incr sent]
	}
    }
    vwait ::done
    set t1 [clock microseconds]
    set gap [StopTicker]
    set seconds [expr {($t1 - $t0) / 1e6}]
    # Check the worker ran every message once: tell N, or asks N.
    if {$mechanism eq "courier"} {
	set count [$worker call set ::n]
    } else {
	set count [thread::send $worker {set ::n}]
    }
    puts [list result [dict create scenario $scenario n $N \
	    seconds $seconds rate [expr {$N / $seconds}] tickGapMs $gap \
	    count $count]]
}

# ----------------------------------------------------------------------
# The driver side.
# ----------------------------------------------------------------------

# bench::actor::run --
#	Called by run.tcl: every scenario in its own tclsh, R rounds, the
#	median of each; the table, the ratios against the Thread extension,
#	the targets, and bench/results/actor.csv.
proc ::bench::actor::run {} {
    variable scenarios
    variable script
    variable targets
    set sizes [expr {$::bench::quick
	    ? {tell 50000 ask 5000 ask100 50000}
	    : {tell 500000 ask 20000 ask100 300000}}]
    puts "messages to a worker thread running \"proc work {x} {incr ::n}\";\
	    an `after 10` ticker in the caller; each scenario in its own tclsh"
    array set runs {}
    set failures 0
    for {set round 0} {$round < $::bench::repeat} {incr round} {
	foreach {key label mechanism kind window} $scenarios {
	    set N [dict get $sizes [expr {$window == 100 ? "ask100" : $kind}]]
	    if {[catch {::bench::child $script $key $N} r]} {
		puts "$label: $r"
		incr failures
		continue
	    }
	    lappend runs($key) $r
	}
    }
    set results {}
    foreach {key label mechanism kind window} $scenarios {
	if {[info exists runs($key)]} {
	    dict set results $key [::bench::median $runs($key) rate]
	}
    }

    # Rows: the courier scenario's ratio is against the next (Thread) one.
    set rows {}
    set csv {}
    set keys {}
    foreach {key label mechanism kind window} $scenarios {
	lappend keys $key
    }
    foreach {key label mechanism kind window} $scenarios {
	if {![dict exists $results $key]} {
	    continue
	}
	set r [dict get $results $key]
	set ratio ""
	if {$mechanism eq "courier"} {
	    set other [lindex $keys [expr {[lsearch $keys $key] + 1}]]
	    if {[dict exists $results $other]} {
		set ratio [expr {[dict get $r rate]
			/ [dict get $results $other rate]}]
	    }
	}
	set ok [expr {[dict get $r count] == [dict get $r n]}]
	lappend rows [list $label [format %.0f [dict get $r rate]] \
		[expr {$ratio eq "" ? "-" : [format %.2fx $ratio]}] \
		[format %.1f [dict get $r tickGapMs]] \
		[expr {$ok ? "yes" : "NO: [dict get $r count]"}]]
	lappend csv [list $key $label [dict get $r n] \
		[format %.3f [dict get $r seconds]] \
		[format %.0f [dict get $r rate]] \
		[expr {$ratio eq "" ? "" : [format %.3f $ratio]}] \
		[format %.1f [dict get $r tickGapMs]]]
    }
    ::bench::table {scenario msgs/s "vs Thread" "tick gap ms" "all ran"} \
	    $rows
    Spread [array get runs]

    # Targets.
    puts ""
    foreach {key label mechanism kind window} $scenarios {
	if {![dict exists $results $key]} {
	    continue
	}
	set r [dict get $results $key]
	if {$mechanism eq "courier"} {
	    set other [lindex $keys [expr {[lsearch $keys $key] + 1}]]
	    if {[dict exists $results $other]} {
		set ratio [expr {[dict get $r rate]
			/ [dict get $results $other rate]}]
		puts [format "target %-28s >= %.1fx Thread: %.2fx %s" $label \
			[dict get $targets ratio] $ratio \
			[expr {$ratio >= [dict get $targets ratio]
			    ? "met" : "NOT MET"}]]
	    }
	    puts [format "target %-28s tick gap <= %.0f ms: %.1f ms %s" \
		    $label [dict get $targets tickGapMs] \
		    [dict get $r tickGapMs] \
		    [expr {[dict get $r tickGapMs]
			<= [dict get $targets tickGapMs] ? "met" : "NOT MET"}]]
	}
    }
    if {[llength $csv] == [llength $keys]} {
	set path [::bench::csv actor.csv {key scenario n seconds msgs_per_s
	    vs_thread tick_gap_ms} $csv]
	puts "\nwritten: bench/results/[file tail $path]"
    }
    if {$failures} {
	return -code error "$failures scenario run(s) failed"
    }
}

# bench::actor::Spread --
#	The range of msgs/s over the rounds.
proc ::bench::actor::Spread {runs} {
    variable scenarios
    if {$::bench::repeat < 2} {
	return
    }
    puts "msgs/s over $::bench::repeat rounds (min .. max):"
    foreach {key label mechanism kind window} $scenarios {
	if {![dict exists $runs $key]} {
	    continue
	}
	set rates [lsort -real [lmap r [dict get $runs $key] {
	    dict get $r rate
	}]]
	puts [format "  %-34s %8.0f .. %8.0f" $label [lindex $rates 0] \
		[lindex $rates end]]
    }
}

# Run as a child: tclsh actor.tcl scenario N.
if {[info exists argv0] && [file normalize $argv0] eq $::bench::actor::script} {
    ::bench::actor::child {*}$argv
    exit 0
}
