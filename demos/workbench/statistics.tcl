# statistics.tcl --
#
#	Figures the views show (no Tk): the event loop's lag (an "after"
#	ticker that notes how late it fires), and once a second each item's
#	messages and bytes per second in and out, kept for the last 60 s.

namespace eval ::workbench {
    variable lag		;# Array: event-loop lag, in ms.
    array set lag {dueUs 0 window 0 now 0 worst 0 ticks 0 periodMs 10}
    variable rates		;# Array: id -> list of 60 samples.
    array set rates {}
    variable previous		;# Array: id -> counters a second ago.
    array set previous {}
    variable historyLength 60
    variable slow {}		;# {atMs ms handle kind command}, slowest
				;# first (NoteSlow).
    variable slowKept 3
}

# workbench::startLagMeter ?periodMs? --
#	Starts the ticker. A busy event loop (a callback or a drain that
#	does not yield) shows up at once as lag.

proc ::workbench::startLagMeter {{periodMs 10}} {
    variable lag
    set lag(periodMs) $periodMs
    set lag(dueUs) 0
    LagTick
}

proc ::workbench::LagTick {} {
    variable lag
    set now [clock microseconds]
    if {$lag(dueUs) != 0} {
	set late [expr {max(0, $now - $lag(dueUs)) / 1000.0}]
	set lag(window) [expr {max($lag(window), $late)}]
	set lag(worst) [expr {max($lag(worst), $late)}]
	incr lag(ticks)
    }
    set lag(dueUs) [expr {$now + $lag(periodMs) * 1000}]
    after $lag(periodMs) ::workbench::LagTick
}

# workbench::lagSample --
#	The worst lag since the last call ("now": one tick alone is too
#	noisy to read) and the worst since the last reset, in ms.

proc ::workbench::lagSample {} {
    variable lag
    set lag(now) $lag(window)
    set lag(window) 0
    return [list $lag(now) $lag(worst)]
}

proc ::workbench::resetLag {} {
    variable lag
    set lag(worst) 0
    set lag(window) 0
}

# workbench::startSlowMeter ?ms? --
#	Has Courier name every callback that holds the event loop longer
#	than ms (courier::configure -slowcallback, -onslow): the lag meter
#	says the loop was late, this says which callback made it so.

proc ::workbench::startSlowMeter {{ms 25}} {
    variable slow {}
    courier::configure -slowcallback $ms -onslow ::workbench::NoteSlow
}

# workbench::NoteSlow handle kind ms command --
#	-onslow: keeps the slowest callbacks of the last minute, at most
#	slowKept of them, slowest first.

proc ::workbench::NoteSlow {handle kind ms command} {
    variable slow
    variable slowKept
    set now [clock milliseconds]
    set kept [lmap entry $slow {
	if {[lindex $entry 0] < $now - 60000} continue
	set entry
    }]
    lappend kept [list $now $ms $handle $kind $command]
    set slow [lrange [lsort -integer -decreasing -index 1 $kept] \
	    0 [expr {$slowKept - 1}]]
}

# workbench::slowRecent --
#	The slowest callbacks of the last minute, slowest first: a list of
#	{ms handle kind command}.

proc ::workbench::slowRecent {} {
    variable slow
    set since [expr {[clock milliseconds] - 60000}]
    set out {}
    foreach entry $slow {
	if {[lindex $entry 0] >= $since} {
	    lappend out [lrange $entry 1 end]
	}
    }
    return $out
}

# workbench::sampleRates --
#	Called once a second: appends to each item's history (and to the
#	"total" history, over client and accepted connections) the
#	per-second deltas {msgsIn bytesIn msgsOut bytesOut}.

proc ::workbench::sampleRates {} {
    variable rates
    variable previous
    variable historyLength
    set total {0 0 0 0}
    set seen {}
    foreach id [items] {
	if {[itemGet $id kind] eq "listener"} {
	    continue
	}
	set c [counters $id]
	set now [list [dict get $c msgsIn] [dict get $c bytesIn] \
		[dict get $c msgsOut] [dict get $c bytesOut]]
	set before [expr {[info exists previous($id)] ? $previous($id)
		: {0 0 0 0}}]
	set delta [lmap a $now b $before {expr {$a - $b}}]
	set previous($id) $now
	Push $id $delta
	set total [lmap a $total b $delta {expr {$a + $b}}]
	lappend seen $id
    }
    # A listener's history is the sum of its clients'.
    foreach id [items listener] {
	set sum {0 0 0 0}
	foreach child [itemGet $id children] {
	    set sum [lmap a $sum b [lindex $rates($child) end] \
		    {expr {$a + $b}}]
	}
	Push $id $sum
	lappend seen $id
    }
    Push total $total
    foreach id [array names previous] {
	if {$id ni $seen} {
	    unset previous($id) rates($id)
	}
    }
}

proc ::workbench::Push {id sample} {
    variable rates
    variable historyLength
    if {![info exists rates($id)]} {
	set rates($id) [lrepeat $historyLength {0 0 0 0}]
    }
    lappend rates($id) $sample
    set rates($id) [lrange $rates($id) end-[expr {$historyLength - 1}] end]
}

# workbench::rateHistory id --
#	The last 60 one-second samples {msgsIn bytesIn msgsOut bytesOut}
#	of an item (or "total"), oldest first.

proc ::workbench::rateHistory {id} {
    variable rates
    variable historyLength
    if {[info exists rates($id)]} {
	return $rates($id)
    }
    return [lrepeat $historyLength {0 0 0 0}]
}

# workbench::percentiles values ps --
#	The values at the given percentiles (0-100) of a list of numbers,
#	by nearest rank; an empty list gives zeros.

proc ::workbench::percentiles {values ps} {
    set n [llength $values]
    if {$n == 0} {
	return [lrepeat [llength $ps] 0]
    }
    set sorted [lsort -real $values]
    return [lmap p $ps {
	lindex $sorted [expr {max(0, min($n - 1,
		int(ceil($p / 100.0 * $n)) - 1))}]
    }]
}

# workbench::commas n --
#	12345678 -> 12,345,678.

proc ::workbench::commas {n} {
    set n [expr {round($n)}]
    set sign [expr {$n < 0 ? "-" : ""}]
    set s [string reverse [expr {abs($n)}]]
    regsub -all {(\d\d\d)(?=\d)} $s {\1,} s
    return $sign[string reverse $s]
}

# workbench::humanBytes n --
#	A byte count or rate with a binary unit: 1536 -> 1.5 KiB.

proc ::workbench::humanBytes {n} {
    foreach unit {B KiB MiB GiB TiB} {
	if {abs($n) < 1024 || $unit eq "TiB"} {
	    return [expr {$unit eq "B" ? "[expr {round($n)}] B"
		    : [format "%.1f %s" $n $unit]}]
	}
	set n [expr {$n / 1024.0}]
    }
}
