# server.tcl --
#
#	A line server under an outside load generator: 50 clients in a
#	process of their own (bench/load.js, Node.js) each keep 16 request
#	lines in flight (pipelining) and answer every reply with the next
#	request. The servers, each alone in its process, answer each line
#	with itself, through the same Tcl proc (handle) where they are Tcl:
#	  tcl	  Tcl's socket + fileevent: a gets loop calling handle and
#		  puts per line, one flush per readable event;
#	  courier courier -framing line: a proc per line, a send per reply;
#	  batch	  courier -framing line -batch 1: a proc per read, handle
#		  per line, one send of the read's replies;
#	  node	  Node.js's net module (bench/server.js): one callback per
#		  read, one write of the read's replies.
#	Replies per second over 3 s (after 1 s of warm-up), the server's CPU
#	time per million replies (user + system, all its threads), and the
#	cores the server and the load process kept busy (CPU seconds per
#	second): a load process near 1.0 is itself the limit, and the
#	replies/s of servers it saturates say less than their CPU per reply.
#
#	The file has three roles:
#	  - sourced by run.tcl, it defines ::bench::server::run;
#	  - run as `tclsh server.tcl run scenario ms`, it is one measurement:
#	    it starts the server and the load process and prints
#	    "result <dict>";
#	  - run as `tclsh server.tcl serve tcl|courier|batch`, it is the
#	    server: it prints "port N" and exits when its stdin closes.

namespace eval ::bench::server {
    variable script [file normalize [info script]]
    variable dir [file dirname $script]
    # key label
    variable scenarios {
	tcl     "Tcl socket+fileevent, gets loop"
	courier "courier line, proc per line + send"
	batch   "courier line -batch 1, proc per read"
	node    "Node.js 20 net, callback per read"
    }
    variable clients 50
    variable depth 16
    # The issue's targets: per line >= 1.5x Tcl's, -batch 1 >= 1.0x Node's.
    variable targets {courierVsTcl 1.5 batchVsNode 1.0}
}

# ----------------------------------------------------------------------
# The servers.
# ----------------------------------------------------------------------

# handle --
#	The application's work per line: the reply (an echo).
proc ::handle {line} {
    return $line
}

proc ::bench::server::Serve {kind} {
    switch -- $kind {
	tcl {
	    set srv [socket -server ::bench::server::TclAccept \
		    -myaddr 127.0.0.1 0]
	    set port [lindex [fconfigure $srv -sockname] 2]
	}
	courier - batch {
	    package require courier
	    set srv [courier::listen 0 -host 127.0.0.1 -framing line \
		    -batch [expr {$kind eq "batch"}] \
		    -ondata [expr {$kind eq "batch" ? "::bench::server::OnBatch"
			: "::bench::server::OnLine"}]]
	    set port [$srv port]
	}
	default {
	    return -code error "unknown server \"$kind\""
	}
    }
    puts "port $port"
    flush stdout
    fconfigure stdin -blocking 0
    fileevent stdin readable {
	read stdin
	if {[eof stdin]} {
	    exit 0
	}
    }
    vwait forever
}
proc ::bench::server::TclAccept {chan host port} {
    fconfigure $chan -blocking 0 -buffering full -translation lf \
	    -encoding iso8859-1
    fileevent $chan readable [list ::bench::server::TclReadable $chan]
}
proc ::bench::server::TclReadable {chan} {
    while {[gets $chan line] >= 0} {
	puts $chan [handle $line]
    }
    if {[eof $chan]} {
	close $chan
	return
    }
    flush $chan
}
proc ::bench::server::OnLine {c line} {
    $c send [handle $line]
}
proc ::bench::server::OnBatch {c lines} {
    set out {}
    foreach line $lines {
	lappend out [handle $line]
    }
    $c send [join $out \n]
}

# ----------------------------------------------------------------------
# One measurement.
# ----------------------------------------------------------------------

# bench::server::CpuSeconds pid --
#	User + system time of a process, all its threads, in seconds.
proc ::bench::server::CpuSeconds {pid} {
    set f [open /proc/$pid/stat]
    set stat [read $f]
    close $f
    # Fields after the command name (which may hold spaces): state is
    # the 3rd field, utime the 14th, stime the 15th.
    set rest [string range $stat [expr {[string last ")" $stat] + 2}] end]
    lassign [lrange $rest 11 12] utime stime
    return [expr {($utime + $stime) / 100.0}]
}

proc ::bench::server::Measure {scenario ms} {
    variable script
    variable dir
    variable clients
    variable depth
    if {$scenario eq "node"} {
	set cmd [list node [file join $dir server.js]]
    } else {
	set cmd [list [info nameofexecutable] $script serve $scenario]
    }
    set server [open |[concat $cmd [list 2>@ stderr]] r+]
    if {[gets $server line] < 0 || ![regexp {^port (\d+)$} $line -> port]} {
	return -code error "$scenario server: no port ($line)"
    }
    set pid [lindex [pid $server] 0]
    set warmup 1000
    # The load process warms up, then counts: read the server's CPU time
    # at the start and end of the count.
    set load [open |[list node [file join $dir load.js] $port $clients \
	    $depth $warmup $ms 2>@ stderr] r]
    set loadPid [lindex [pid $load] 0]
    after $warmup
    set cpu0 [CpuSeconds $pid]
    set loadCpu0 [CpuSeconds $loadPid]
    after $ms
    set loadCpu1 [CpuSeconds $loadPid]
    set out [read $load]
    set cpu1 [CpuSeconds $pid]
    close $load
    close $server
    if {![regexp {result replies (\d+) seconds ([\d.]+)} $out -> n s]} {
	return -code error "$scenario: load process said: $out"
    }
    return [dict create scenario $scenario replies $n seconds $s \
	    rate [expr {$n / $s}] \
	    cpuPerM [expr {$n ? ($cpu1 - $cpu0) * 1e6 / $n : 0}] \
	    serverCores [expr {($cpu1 - $cpu0) / $s}] \
	    loadCores [expr {($loadCpu1 - $loadCpu0) / $s}]]
}

# ----------------------------------------------------------------------
# The driver side.
# ----------------------------------------------------------------------

proc ::bench::server::run {} {
    variable scenarios
    variable script
    variable clients
    variable depth
    variable targets
    if {[auto_execok node] eq ""} {
	return -code error "node (Node.js) is not installed"
    }
    set ms [expr {$::bench::quick ? 1000 : 3000}]
    puts "$clients pipelining clients ($depth lines in flight each, 32-byte\
	    lines) in a Node.js load process; [expr {$ms / 1000.0}] s per run;\
	    load average [LoadAverage]"
    array set runs {}
    set failures 0
    for {set round 0} {$round < $::bench::repeat} {incr round} {
	foreach {key label} $scenarios {
	    if {[catch {::bench::child $script run $key $ms} r]} {
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
    set rows {}
    set csv {}
    foreach {key label} $scenarios {
	if {![dict exists $results $key]} {
	    continue
	}
	set r [dict get $results $key]
	set vsTcl [Ratio $results $key tcl]
	set vsNode [Ratio $results $key node]
	lappend rows [list $label [format %.0f [dict get $r rate]] \
		[expr {$vsTcl eq "" ? "-" : [format %.2fx $vsTcl]}] \
		[expr {$vsNode eq "" ? "-" : [format %.2fx $vsNode]}] \
		[format %.2f [dict get $r cpuPerM]] \
		[format %.2f [dict get $r serverCores]] \
		[format %.2f [dict get $r loadCores]]]
	lappend csv [list $key $label [dict get $r replies] \
		[format %.3f [dict get $r seconds]] \
		[format %.0f [dict get $r rate]] \
		[expr {$vsTcl eq "" ? "" : [format %.3f $vsTcl]}] \
		[expr {$vsNode eq "" ? "" : [format %.3f $vsNode]}] \
		[format %.3f [dict get $r cpuPerM]] \
		[format %.3f [dict get $r serverCores]] \
		[format %.3f [dict get $r loadCores]]]
    }
    ::bench::table {server replies/s "vs Tcl" "vs Node" "CPU s per M"
	"server cores" "load cores"} $rows
    if {$::bench::repeat > 1} {
	puts "replies/s over $::bench::repeat rounds (min .. max):"
	foreach {key label} $scenarios {
	    if {[info exists runs($key)]} {
		set rates [lsort -real [lmap r $runs($key) {dict get $r rate}]]
		puts [format "  %-38s %8.0f .. %8.0f" $label [lindex $rates 0] \
			[lindex $rates end]]
	    }
	}
    }
    puts "load average after: [LoadAverage]"
    set c [Ratio $results courier tcl]
    set b [Ratio $results batch node]
    Verdict "courier per line >= [dict get $targets courierVsTcl]x Tcl's" \
	    [expr {$c ne "" && $c >= [dict get $targets courierVsTcl]}] $c
    Verdict "courier -batch 1 >= [dict get $targets batchVsNode]x Node's" \
	    [expr {$b ne "" && $b >= [dict get $targets batchVsNode]}] $b
    if {[dict size $results] == [dict size $scenarios]} {
	set path [::bench::csv server.csv {key server replies seconds
	    replies_per_s vs_tcl vs_node cpu_s_per_million server_cores
	    load_cores} $csv]
	puts "\nwritten: bench/results/[file tail $path]"
    }
    if {$failures} {
	return -code error "$failures run(s) failed"
    }
}
proc ::bench::server::Ratio {results key base} {
    if {![dict exists $results $key] || ![dict exists $results $base]} {
	return ""
    }
    expr {[dict get $results $key rate] / [dict get $results $base rate]}
}
proc ::bench::server::Verdict {what met ratio} {
    puts [format "  %-40s %-6s (%s)" $what [expr {$met ? "met" : "MISSED"}] \
	    [expr {$ratio eq "" ? "no result" : [format %.2fx $ratio]}]]
}
proc ::bench::server::LoadAverage {} {
    if {[catch {
	set f [open /proc/loadavg]
	set l [lrange [read $f] 0 2]
	close $f
    }]} {
	return ?
    }
    return $l
}

# Run as a script: be the measurement or the server.
if {[info exists ::argv0]
	&& [file normalize $::argv0] eq $::bench::server::script} {
    switch -- [lindex $::argv 0] {
	serve { ::bench::server::Serve [lindex $::argv 1] }
	run {
	    puts [list result [::bench::server::Measure {*}[lrange $::argv 1 end]]]
	}
	default {
	    puts stderr "usage: server.tcl run scenario ms | serve kind"
	    exit 2
	}
    }
    exit 0
}
