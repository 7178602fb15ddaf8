# udpbench.tcl --
#
#	The Workbench receiving UDP: the app (demos/workbench.tcl, in this
#	process, logging to a file) binds a UDP socket and shows it in the
#	traffic view while a sender in another process (python3) sends
#	64-byte numbered datagrams, first one every INTERVAL ms for PACED
#	seconds, then as fast as it can for FLOOD seconds. Meanwhile a click
#	on the traffic view's Clear button is queued every 500 ms (behind
#	whatever is pending, as the X server's events are) and timed to its
#	command; the lag meter runs. After each phase, once the socket has
#	caught up: what was sent, what Courier delivered (datagramsIn), what
#	the kernel dropped for a full receive buffer (kernelDrops), the
#	received rows the log holds for the phase, whether they are the
#	delivered datagrams in order and intact, and the click and lag
#	figures. Needs an X display (Xvfb is fine) and python3; run from the
#	source tree with the built package on TCLLIBPATH:
#
#	    tests/with-display.sh env TCLLIBPATH=$PWD \
#		tclsh demos/workbench/udpbench.tcl ?PACED? ?FLOOD? ?INTERVAL? ?CSV?
#
#	(defaults 60 s, 10 s, 1 ms; CSV: append one row per phase to that
#	file). Prints one line "phase <dict>" per phase. A click's time
#	less the time this process and the X server waited for a CPU
#	(/proc/PID/schedstat: other processes' load) is "appClickMs"; the
#	worst lateness of a 10 ms timer, so corrected, "appLagMs" (beside
#	the status bar's worst lag, "worstLagMs").

package require Tk
lassign [list 60 10 1 {}] paced flood interval csv
lassign $argv a b c d
foreach var {paced flood interval csv} value [list $a $b $c $d] {
    if {$value ne ""} {
	set $var $value
    }
}
set tmp [expr {[info exists env(TMPDIR)] ? $env(TMPDIR) : "/tmp"}]
set logFile [file join $tmp wb-udpbench-[pid].log]
set sender [file join $tmp wb-udpbench-[pid].py]
set f [open $sender w]
puts $f {
import socket, sys, time
port, mode, seconds, interval = int(sys.argv[1]), sys.argv[2], \
    float(sys.argv[3]), float(sys.argv[4]) / 1000.0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tag = mode[0].upper().encode()
pad = b"x" * 53
n = 0
start = time.monotonic()
end = start + seconds
if mode == "paced":
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - start) / interval) + 1
        while n < due:
            n += 1
            s.sendto(tag + b"%010d" % n + pad, ("127.0.0.1", port))
        time.sleep(max(0.0, start + n * interval - time.monotonic()))
else:
    addr = ("127.0.0.1", port)
    while time.monotonic() < end:
        for i in range(1000):
            n += 1
            s.sendto(tag + b"%010d" % n + pad, addr)
print(n, flush=True)
}
close $f

set argv [list --no-workspace --geometry 1100x760+0+0 --log $logFile \
	--log-size 4096]
source [file join [file dirname [file dirname [file normalize \
	[info script]]]] workbench.tcl]
update

set id [::workbench::udpBind 0]
set port [::workbench::itemGet $id port]
set handle [::workbench::itemGet $id handle]
# Let the window settle (first paint, fonts) before measuring.
after 1000 {set ::go 1}
vwait ::go
.pw.side.tree selection set $id
update

# The process's and the X server's time waiting for a CPU, in us.
set ::waitPids [list self]
foreach cmdline [glob -nocomplain /proc/\[0-9\]*/cmdline] {
    catch {
	set f [open $cmdline]
	set args [split [read $f] \0]
	close $f
	if {[string match *Xvfb [lindex $args 0]]
		&& [info exists env(DISPLAY)] && $env(DISPLAY) in $args} {
	    lappend ::waitPids [lindex [file split $cmdline] 2]
	}
    }
}
proc runWaitUs {} {
    set wait 0
    foreach p $::waitPids {
	catch {
	    set f [open /proc/$p/schedstat]
	    incr wait [lindex [read $f] 1]
	    close $f
	}
    }
    return [expr {$wait / 1000}]
}

rename ::workbench::clearTraffic ::workbench::ClearTrafficReal
proc ::workbench::clearTraffic {} {
    set ms [expr {([clock microseconds] - $::clickAt) / 1000.0}]
    lappend ::clicks $ms
    lappend ::appClicks [expr {max(0, $ms - ([runWaitUs] - $::clickWait) / 1000.0)}]
    ::workbench::ClearTrafficReal
}
proc clickLoop {} {
    set w .nb.traffic.bar.clear
    set ::clickWait [runWaitUs]
    set ::clickAt [clock microseconds]
    event generate $w <Enter> -when tail
    event generate $w <ButtonPress-1> -x 4 -y 4 -when tail
    event generate $w <ButtonRelease-1> -x 4 -y 4 -when tail
    set ::clickTimer [after 500 clickLoop]
}

# A 10 ms ticker: its worst lateness less the CPU wait in between is the
# lag the app itself caused ("appLagMs").
proc appTick {due wait} {
    set now [clock microseconds]
    set w [runWaitUs]
    if {$due} {
	set late [expr {max(0, $now - $due)}]
	set ::appLag [expr {max($::appLag, ($late - ($w - $wait)) / 1000.0)}]
    }
    set ::appTimer [after 10 [list appTick [expr {$now + 10000}] $w]]
}

proc wait {ms} {
    after $ms {set ::waited 1}
    vwait ::waited
}

# phase name seconds interval --
#	Runs the sender and measures; returns the phase's figures.

proc phase {name seconds interval} {
    global port handle sender id
    set before [$handle info]
    set runWait0 [runWaitUs]
    set ::clicks {}
    set ::appClicks {}
    ::workbench::resetLag
    set ::appLag 0
    appTick 0 0
    # Without LD_PRELOAD: a sanitizer's runtime (when this process runs
    # under one) has no business in the sender.
    set chan [open |[list env -u LD_PRELOAD python3 $sender $port $name \
	    $seconds $interval] r]
    fileevent $chan readable [list apply {{chan} {
	set ::sent [gets $chan]
	fileevent $chan readable {}
    }} $chan]
    unset -nocomplain ::sent
    clickLoop
    vwait ::sent
    after cancel $::clickTimer
    after cancel $::appTimer
    set worstLag $::workbench::lag(worst)
    close $chan
    # Caught up: everything sent delivered or counted as dropped, or no
    # change for two seconds.
    set last -1
    set still 0
    while {$still < 20} {
	set info [$handle info]
	set got [expr {[dict get $info datagramsIn] - [dict get $before datagramsIn]
		+ [dict get $info kernelDrops] - [dict get $before kernelDrops]}]
	if {$got >= $::sent && [dict get $info pending] == 0} {
	    break
	}
	incr still [expr {$got == $last}]
	set last $got
	wait 100
    }
    update
    set info [$handle info]
    set clicks [llength $::clicks]
    return [dict create phase $name seconds $seconds \
	    offeredPerS [expr {round($::sent / double($seconds))}] \
	    sent $::sent \
	    delivered [expr {[dict get $info datagramsIn]
		- [dict get $before datagramsIn]}] \
	    kernelDrops [expr {[dict get $info kernelDrops]
		- [dict get $before kernelDrops]}] \
	    clicks $clicks \
	    worstClickMs [format %.1f [tcl::mathfunc::max 0 {*}$::clicks]] \
	    appClickMs [format %.1f [tcl::mathfunc::max 0 {*}$::appClicks]] \
	    worstLagMs [format %.1f $worstLag] \
	    appLagMs [format %.1f $::appLag] \
	    runQueueWaitMs [expr {([runWaitUs] - $runWait0) / 1000}]]
}

set results {}
if {$paced > 0} {
    lappend results [phase paced $paced $interval]
}
if {$flood > 0} {
    lappend results [phase flood $flood 0]
}
::workbench::stopLog

# The log: the received rows of the UDP socket, per phase (their first
# letter), checked for order and form.
set f [open $logFile rb]
foreach key {p f} {
    set logRows($key) 0
    set ordered($key) 1
    set prev($key) 0
}
while {[gets $f line] >= 0} {
    # "YYYY-MM-DD HH:MM:SS.uuuuuu < ID payload"
    if {![regexp {^\S+ \S+ < (\S+) (.*)$} $line -> who payload]
	    || $who ne $id} {
	continue
    }
    if {![regexp {^([PF])(\d{10})x{53}$} $payload -> tag n]} {
	set ordered(p) 0
	set ordered(f) 0
	continue
    }
    set key [string tolower $tag]
    scan $n %d n
    incr logRows($key)
    if {$n <= $prev($key)} {
	set ordered($key) 0
    }
    set prev($key) $n
}
close $f
file delete $sender {*}[glob -nocomplain $logFile*]

foreach r $results {
    set key [string index [dict get $r phase] 0]
    dict set r logRows $logRows($key)
    dict set r logComplete [expr {$logRows($key) == [dict get $r delivered]
	    && $ordered($key)}]
    dict set r accounted [expr {[dict get $r delivered]
	    + [dict get $r kernelDrops] == [dict get $r sent]}]
    puts [list phase $r]
    if {$csv ne ""} {
	set new [expr {![file exists $csv]}]
	set out [open $csv a]
	if {$new} {
	    puts $out "date,[join [dict keys $r] ,]"
	}
	puts $out "[clock format [clock seconds] -format %Y-%m-%dT%H:%M:%SZ\
		-gmt 1],[join [dict values $r] ,]"
	close $out
    }
}
flush stdout
exit 0
