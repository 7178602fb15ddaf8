# inbox.tcl --
#
#	How fast messages from other threads reach a Tcl proc callback, and
#	whether the event loop keeps breathing meanwhile. Courier's inbox
#	(fed by C producer threads through courier::test::flood) runs side
#	by side with the Thread extension's thread::send -async, per message
#	and in batches of 100, against the dispatch limit: the rate at which
#	a plain compiled Tcl loop can call the same proc. No delivery
#	mechanism can beat that limit, so it is the yardstick. And against
#	the floor of delivery: courier::test::evalloop calls the same proc
#	from a C loop with Tcl_EvalObjv, each time with a fresh byte array
#	like a delivered message, with no queue, thread or event loop.
#
#	The file has two roles:
#	  - sourced by run.tcl, it defines ::bench::inbox::run, which starts
#	    one child per scenario and prints the table;
#	  - run as `tclsh inbox.tcl scenario N`, it is that child: it runs
#	    one scenario in this fresh process and prints "result <dict>".

namespace eval ::bench::inbox {
    variable script [file normalize [info script]]
    # Every scenario delivers 16-byte messages, the size of a small
    # protocol frame, so the cost measured is delivery, not copying.
    variable size 16
    variable scenarios {
	limit    "dispatch limit (Tcl loop)"
	floor    "floor (C Tcl_EvalObjv loop)"
	courier1 "courier, 1 producer"
	courier4 "courier, 4 producers"
	send     "thread::send -async"
	batch    "thread::send -async, batch 100"
    }
    # The issue's targets for courier's per-message delivery.
    variable targets {sendRatio 2.0 limitRatio 0.75 floorRatio 0.90
	tickGapMs 25.0}
}

# ----------------------------------------------------------------------
# The child: one scenario in this process.
# ----------------------------------------------------------------------

# cb --
#	The callback under test, the same proc in every scenario and at
#	global level, where courier and thread::send call it. It counts and
#	flags the N-th call, so every scenario ends the same way: the clock
#	stops when the N-th callback has run, not when the producer is done.
proc ::cb {m} {
    if {[incr ::n] == $::N} {
	set ::done 1
    }
}

# cbbatch --
#	The Thread extension's best case: one event carries 100 messages.
proc ::cbbatch {list} {
    foreach m $list {
	cb $m
    }
}

# bench::inbox::Payload --
#	A message shaped like the flood's ("<thread>:<seq>" padded with
#	dots), for the scenarios that build their own.
proc ::bench::inbox::Payload {} {
    variable size
    return [string range "0:0[string repeat . $size]" 0 [expr {$size - 1}]]
}

# bench::inbox::Loop --
#	The dispatch limit: the plain loop, compiled because it is a proc,
#	so it measures the cost of calling cb and nothing else.
proc ::bench::inbox::Loop {N payload} {
    for {set i 0} {$i < $N} {incr i} {
	cb $payload
    }
}

# The worker thread of the thread::send scenarios. It sends the same
# payload every time, so the producer does as little as possible and the
# receiving thread alone sets the pace, as in courier's case.
set ::bench::inbox::workerScript {
    proc each {main N payload} {
	for {set i 0} {$i < $N} {incr i} {
	    thread::send -async $main [list cb $payload]
	}
    }
    proc batches {main N payload} {
	set batch [lrepeat 100 $payload]
	for {set i 0} {$i < $N} {incr i 100} {
	    thread::send -async $main [list cbbatch $batch]
	}
    }
    thread::wait
}

# bench::inbox::StartProbes --
#	The receiving thread's pulse: an `after 10` ticker and an idle
#	probe that re-registers itself, so it runs once per idle pass (the
#	passes in which Tk would repaint). Each records its largest gap.
#	Both count from the start, so a probe that never fires reports the
#	whole run as its gap.
proc ::bench::inbox::StartProbes {} {
    variable probe
    set now [clock microseconds]
    array set probe [list tickLast $now tickGap 0 idleLast $now idleGap 0]
    set probe(tickId) [after 10 ::bench::inbox::Tick]
    set probe(idleId) [after idle ::bench::inbox::Idle]
}
proc ::bench::inbox::Tick {} {
    variable probe
    Gap tick [clock microseconds]
    set probe(tickId) [after 10 ::bench::inbox::Tick]
}
proc ::bench::inbox::Idle {} {
    variable probe
    Gap idle [clock microseconds]
    set probe(idleId) [after idle ::bench::inbox::Idle]
}
proc ::bench::inbox::Gap {which now} {
    variable probe
    set gap [expr {$now - $probe(${which}Last)}]
    if {$gap > $probe(${which}Gap)} {
	set probe(${which}Gap) $gap
    }
    set probe(${which}Last) $now
}

# bench::inbox::StopProbes --
#	Cancels the probes; a probe starved until the end still has its
#	longest gap open, so the gap up to `now` counts too.
proc ::bench::inbox::StopProbes {now} {
    variable probe
    after cancel $probe(tickId)
    after cancel $probe(idleId)
    Gap tick $now
    Gap idle $now
    return [list tickGapMs [expr {$probe(tickGap) / 1000.0}] \
	    idleGapMs [expr {$probe(idleGap) / 1000.0}]]
}

# bench::inbox::PeakRss --
#	Peak resident set of this process in MiB (VmHWM), the memory a
#	backlog of undelivered messages costs at its worst.
proc ::bench::inbox::PeakRss {} {
    if {[catch {open /proc/self/status} f]} {
	return -1
    }
    set status [read $f]
    close $f
    if {![regexp -line {^VmHWM:\s+(\d+)\s+kB} $status -> kb]} {
	return -1
    }
    return [expr {$kb / 1024.0}]
}

# bench::inbox::WarmUp ms --
#	Keeps the CPU busy for a while before the clock starts. On the
#	virtual machine these figures come from, a fresh process runs its first
#	few hundred milliseconds at about half speed whatever it runs; that
#	would penalize the shortest scenarios (the dispatch limit above all)
#	and make ratios depend on run length.
proc ::bench::inbox::WarmUp {ms} {
    set end [expr {[clock milliseconds] + $ms}]
    while {[clock milliseconds] < $end} {}
}

# bench::inbox::Prepare scenario --
#	Everything that must not be timed: loading packages, starting the
#	Thread worker. Each scenario loads only what it uses, so peak RSS
#	belongs to that mechanism alone.
proc ::bench::inbox::Prepare {scenario} {
    variable workerScript
    variable worker
    switch -glob -- $scenario {
	courier* - floor { package require courier }
	send - batch {
	    package require Thread
	    set worker [thread::create $workerScript]
	}
    }
}

# bench::inbox::Start scenario N payload --
#	Starts the delivery of N messages (the loop scenario runs them all
#	right here).
proc ::bench::inbox::Start {scenario N payload} {
    variable worker
    variable size
    switch -- $scenario {
	limit { Loop $N $payload }
	floor { courier::test::evalloop $N $size cb }
	courier1 - courier4 {
	    # Four producers post N in all, so each posts a quarter.
	    set k [expr {$scenario eq "courier4" ? 4 : 1}]
	    courier::test::flood -threads $k -count [expr {$N / $k}] \
		    -size $size -command cb \
		    -ondone [list set ::bench::inbox::flooded]
	}
	send {
	    thread::send -async $worker [list each [thread::id] $N $payload]
	}
	batch {
	    thread::send -async $worker \
		    [list batches [thread::id] $N $payload]
	}
    }
}

# bench::inbox::Finish scenario --
#	Untimed clean-up once the N-th callback ran: let the producers end
#	(the flood joins its threads before -ondone) and collect courier's
#	own counters, which explain its figures.
proc ::bench::inbox::Finish {scenario} {
    variable worker
    variable flooded
    switch -- $scenario {
	courier1 - courier4 {
	    if {![info exists flooded]} {
		set guard [after 10000 [list set ::bench::inbox::flooded \
			timeout]]
		vwait ::bench::inbox::flooded
		after cancel $guard
	    }
	    return [dict filter [courier::stats] key \
		    wakeups drains largestBacklog longestDrainUs budgetUs]
	}
	send - batch {
	    thread::release -wait $worker
	}
    }
    return {}
}

# bench::inbox::child scenario N --
#	The child's main: run one scenario, print its result line.
proc ::bench::inbox::child {scenario N} {
    variable scenarios
    if {![dict exists $scenarios $scenario]
	    || ![string is integer -strict $N] || $N % 100} {
	return -code error "usage: inbox.tcl scenario N (N a multiple of\
		100), scenario one of: [dict keys $scenarios]"
    }
    set payload [Payload]
    set ::n 0
    set ::N $N
    set ::done 0
    Prepare $scenario
    WarmUp 500
    StartProbes
    set t0 [clock microseconds]
    Start $scenario $N $payload
    if {!$::done} {
	vwait ::done
    }
    set t1 [clock microseconds]
    set result [StopProbes $t1]
    set seconds [expr {($t1 - $t0) / 1e6}]
    dict set result scenario $scenario
    dict set result n $N
    dict set result seconds $seconds
    dict set result rate [expr {$N / $seconds}]
    set result [dict merge $result [Finish $scenario]]
    # Courier must deliver each message exactly once, no more.
    dict set result delivered $::n
    dict set result rssMiB [PeakRss]
    puts [list result $result]
}

# ----------------------------------------------------------------------
# The driver side: one child per scenario, then the table.
# ----------------------------------------------------------------------

# bench::inbox::run --
#	Called by run.tcl.
proc ::bench::inbox::run {} {
    variable scenarios
    variable script
    variable size
    set N [expr {$::bench::quick ? 100000 : 1000000}]
    puts "$N calls of cb (a Tcl proc), $size-byte messages; each\
	    scenario in its own tclsh"
    # Rounds go through every scenario in turn, so that a slow spell of
    # the machine hits all of them alike instead of one scenario's runs.
    array set runs {}
    set failures 0
    for {set round 0} {$round < $::bench::repeat} {incr round} {
	foreach {key label} $scenarios {
	    if {[catch {::bench::child $script $key $N} r]} {
		puts "$label: $r"
		incr failures
		continue
	    }
	    lappend runs($key) $r
	}
    }
    set results {}
    foreach {key label} $scenarios {
	if {[info exists runs($key)]} {
	    dict set results $key [::bench::median $runs($key) rate]
	}
    }
    set rows [Rows $results]
    ::bench::table {scenario msgs/s "vs send" "vs limit" "vs floor"
	"tick gap ms" "idle gap ms" "peak RSS MiB"} \
	    [lmap row $rows {lrange $row 1 end}]
    Notes $results
    Spread [array get runs]
    Targets $results
    # A partial table would pass for a complete one: keep the last file.
    if {[dict size $results] == [dict size $scenarios]} {
	set path [::bench::csv inbox.csv {key scenario n seconds msgs_per_s
	    vs_send vs_limit vs_floor tick_gap_ms idle_gap_ms peak_rss_mib} \
		[lmap row $rows {Csv $row $results}]]
	puts "\nwritten: bench/results/[file tail $path]"
    }
    if {$failures} {
	return -code error "$failures scenario run(s) failed"
    }
}

# bench::inbox::Ratio results key base --
#	key's rate over base's, or "" when either run failed.
proc ::bench::inbox::Ratio {results key base} {
    if {![dict exists $results $base]} {
	return ""
    }
    expr {[dict get $results $key rate] / [dict get $results $base rate]}
}

# bench::inbox::Rows --
#	One table row per scenario that produced a result:
#	key label rate vsSend vsLimit vsFloor tickGap idleGap rss.
proc ::bench::inbox::Rows {results} {
    variable scenarios
    set rows {}
    dict for {key r} $results {
	set vsSend [Ratio $results $key send]
	set vsLimit [Ratio $results $key limit]
	set vsFloor [Ratio $results $key floor]
	lappend rows [list $key [dict get $scenarios $key] \
		[format %.0f [dict get $r rate]] \
		[expr {$vsSend eq "" ? "-" : [format %.2fx $vsSend]}] \
		[expr {$vsLimit eq "" ? "-" : [format "%.0f %%" \
			[expr {100 * $vsLimit}]]}] \
		[expr {$vsFloor eq "" ? "-" : [format "%.0f %%" \
			[expr {100 * $vsFloor}]]}] \
		[format %.1f [dict get $r tickGapMs]] \
		[format %.1f [dict get $r idleGapMs]] \
		[format %.1f [dict get $r rssMiB]]]
    }
    return $rows
}

# bench::inbox::Csv --
#	A row for the CSV file: plain numbers, no units.
proc ::bench::inbox::Csv {row results} {
    set key [lindex $row 0]
    set r [dict get $results $key]
    set vsSend [Ratio $results $key send]
    set vsLimit [Ratio $results $key limit]
    set vsFloor [Ratio $results $key floor]
    list $key [lindex $row 1] [dict get $r n] \
	    [format %.3f [dict get $r seconds]] [lindex $row 2] \
	    [expr {$vsSend eq "" ? "" : [format %.3f $vsSend]}] \
	    [expr {$vsLimit eq "" ? "" : [format %.3f $vsLimit]}] \
	    [expr {$vsFloor eq "" ? "" : [format %.3f $vsFloor]}] \
	    [lindex $row 6] [lindex $row 7] [lindex $row 8]
}

# bench::inbox::Notes --
#	Courier's own counters and any miscount, under the table.
proc ::bench::inbox::Notes {results} {
    puts ""
    dict for {key r} $results {
	if {[dict get $r delivered] != [dict get $r n]} {
	    puts "$key: WRONG COUNT: [dict get $r delivered] callbacks\
		    for [dict get $r n] messages"
	}
	if {[dict exists $r drains]} {
	    puts [format "%s: %d wake-up(s), %d drain slices,\
		    longest drain %.1f ms (budget %.1f ms),\
		    largest backlog %d" $key \
		    [dict get $r wakeups] [dict get $r drains] \
		    [expr {[dict get $r longestDrainUs] / 1000.0}] \
		    [expr {[dict get $r budgetUs] / 1000.0}] \
		    [dict get $r largestBacklog]]
	}
    }
}

# bench::inbox::Spread --
#	The range of msgs/s over the rounds: the median alone hides how
#	noisy the machine was, and a target met by a hair means little
#	when the runs spread over a factor of two.
proc ::bench::inbox::Spread {runs} {
    variable scenarios
    if {$::bench::repeat < 2} {
	return
    }
    puts "msgs/s over $::bench::repeat rounds (min .. max):"
    foreach {key label} $scenarios {
	if {![dict exists $runs $key]} {
	    continue
	}
	set rates [lsort -real [lmap r [dict get $runs $key] {
	    dict get $r rate
	}]]
	puts [format "  %-32s %8.0f .. %8.0f" $label [lindex $rates 0] \
		[lindex $rates end]]
    }
}

# bench::inbox::Targets --
#	The issue's targets, checked for each courier scenario.
proc ::bench::inbox::Targets {results} {
    variable targets
    variable scenarios
    puts ""
    foreach key {courier1 courier4} {
	if {![dict exists $results $key]} {
	    puts "[dict get $scenarios $key]: no result, targets MISSED"
	    continue
	}
	puts "targets for [dict get $scenarios $key]:"
	set vsSend [Ratio $results $key send]
	set vsLimit [Ratio $results $key limit]
	set vsFloor [Ratio $results $key floor]
	set gap [dict get $results $key tickGapMs]
	Verdict ">= [dict get $targets sendRatio]x thread::send -async" \
		[expr {$vsSend ne ""
		    && $vsSend >= [dict get $targets sendRatio]}] \
		[expr {$vsSend eq "" ? "no result" : [format %.2fx $vsSend]}]
	Verdict ">= [expr {round(100 * [dict get $targets limitRatio])}] %\
		of the dispatch limit" \
		[expr {$vsLimit ne ""
		    && $vsLimit >= [dict get $targets limitRatio]}] \
		[expr {$vsLimit eq "" ? "no result"
		    : [format "%.0f %%" [expr {100 * $vsLimit}]]}]
	Verdict ">= [expr {round(100 * [dict get $targets floorRatio])}] %\
		of the floor (C loop)" \
		[expr {$vsFloor ne ""
		    && $vsFloor >= [dict get $targets floorRatio]}] \
		[expr {$vsFloor eq "" ? "no result"
		    : [format "%.0f %%" [expr {100 * $vsFloor}]]}]
	Verdict "ticker gap <= [dict get $targets tickGapMs] ms" \
		[expr {$gap <= [dict get $targets tickGapMs]}] \
		[format "%.1f ms" $gap]
    }
}
proc ::bench::inbox::Verdict {what met figure} {
    puts [format "  %-38s %-6s (%s)" $what [expr {$met ? "met" : "MISSED"}] \
	    $figure]
}

# Run as a script: be the child.
if {[info exists ::argv0]
	&& [file normalize $::argv0] eq $::bench::inbox::script} {
    ::bench::inbox::child {*}$::argv
    exit 0
}
