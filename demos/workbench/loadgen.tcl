# loadgen.tcl --
#
#	The load generator (no Tk): N line-framed connections to a target
#	that echoes, each sending M messages a second (or, with rate 0, as
#	fast as the echo comes back, with a fixed number in flight). Every
#	message carries its send time; the echo gives the round trip.
#	Once a second it computes the achieved rate and the p50, p99 and
#	max round trip of that second. Stop always works: it resets every
#	connection at once and cancels every timer.
#
#	Message: "<conn> <seq> <sendTimeUs> <padding>".
#
#	UDP mode (startUdpLoad): one UDP socket sends N datagrams a second
#	of B bytes to a target, "<seq> <sendTimeUs> <padding>"; datagrams
#	that come back (a target that echoes) are counted, give the round
#	trip, and "lost" is what was sent and did not come back.

namespace eval ::workbench {
    variable load		;# Array: the load generator's state.
    array set load {state idle host {} port 0 conns 0 rate 0 size 64
	handles {} timer {} sampler {} startUs 0 sent 0 received 0
	errors 0 lastError {} samples {} window 64 lastReceived 0
	lastUs 0 achieved 0 p50 0 p99 0 max 0 seconds 0 sendCarry 0
	opened 0 skip 0 stride 1 proto tcp sentMark 0}
    variable loadSamplesMax 10000 ;# About as many round trips kept a second.
}

# workbench::startLoad host port conns rate ?size? --
#	Starts the load: conns connections, rate messages per second on
#	each (0: as fast as possible), lines of size bytes.

proc ::workbench::startLoad {host port conns rate {size 64}} {
    variable load
    if {$load(state) ne "idle"} {
	stopLoad
    }
    CheckPort $port
    foreach {name value lo hi} [list conns $conns 1 1000 rate $rate 0 1000000 \
	    size $size 32 65536] {
	if {![string is entier -strict $value] || $value < $lo || $value > $hi} {
	    Fail VALUE $name "bad $name \"$value\": expected an integer from\
		    $lo to $hi"
	}
    }
    array set load [list state running host $host port $port conns $conns \
	    proto tcp \
	    rate $rate size $size handles {} startUs [clock microseconds] \
	    sent 0 received 0 errors 0 lastError {} samples {} \
	    lastReceived 0 lastUs [clock microseconds] achieved 0 \
	    p50 0 p99 0 max 0 seconds 0 opened 0 skip 0 stride 1 sentMark 0]
    set load(pad) [string repeat x $size]
    for {set i 0} {$i < $conns} {incr i} {
	set h [courier::connect $host $port -framing line -batch 1 \
		-timeout 10000 \
		-onconnect [list ::workbench::LoadConnected $i] \
		-ondata [list ::workbench::LoadData $i] \
		-onerror ::workbench::LoadError \
		-onclose [list ::workbench::LoadClosed $i]]
	lappend load(handles) $h
	set load(seq,$i) 0
	set load(open,$i) 0
    }
    if {$rate > 0} {
	set load(timer) [after 10 ::workbench::LoadTick]
    }
    set load(sampler) [after 1000 ::workbench::LoadSample]
    Notify load {}
}

# workbench::stopLoad --
#	Resets every connection at once and cancels the timers; what was in
#	flight is not waited for.

proc ::workbench::stopLoad {} {
    variable load
    after cancel $load(timer)
    after cancel $load(sampler)
    foreach h $load(handles) {
	if {$load(proto) eq "udp"} {
	    catch {$h close}
	} else {
	    catch {$h close -now}
	}
    }
    set load(handles) {}
    foreach key [array names load open,*] {
	set load($key) 0
    }
    if {$load(state) ne "idle"} {
	set load(state) idle
	LoadFigures
	Notify load {}
    }
}

# workbench::loadState --
#	The load generator's state as a dict (the array load), with
#	"openNow": how many of its connections are open at this moment.

proc ::workbench::loadState {} {
    variable load
    set open 0
    foreach key [array names load open,*] {
	incr open $load($key)
    }
    # Lost: while running, what was sent before the last figures (a
    # second ago or more) and has not come back; once stopped, all that
    # has not come back.
    set sent [expr {$load(state) eq "running" ? $load(sentMark) : $load(sent)}]
    return [list {*}[array get load] openNow $open \
	    lost [expr {max(0, $sent - $load(received))}]]
}

# workbench::startUdpLoad host port rate ?size? --
#	UDP mode: rate datagrams a second (1 to 1000000) of size bytes (32
#	to 65507) from one UDP socket to host and port, paced every 10 ms.

proc ::workbench::startUdpLoad {host port rate {size 64}} {
    variable load
    if {$load(state) ne "idle"} {
	stopLoad
    }
    CheckPort $port
    if {$host eq ""} {
	Fail VALUE host "the host is empty"
    }
    foreach {name value lo hi} [list rate $rate 1 1000000 \
	    size $size 32 65507] {
	if {![string is entier -strict $value] || $value < $lo || $value > $hi} {
	    Fail VALUE $name "bad $name \"$value\": expected an integer from\
		    $lo to $hi"
	}
    }
    set family [expr {[string first : $host] >= 0 ? "inet6" : "inet"}]
    set h [courier::udp -family $family \
	    -host [expr {$family eq "inet6" ? "::" : "0.0.0.0"}] \
	    -batch 1 -recvbuffer 4194304 \
	    -ondata ::workbench::LoadUdpData \
	    -onerror {apply {{h message code} {
		::workbench::LoadError $h $message
	    }}}]
    array set load [list state running host $host port $port conns 1 \
	    proto udp rate $rate size $size handles [list $h] \
	    startUs [clock microseconds] \
	    sent 0 received 0 errors 0 lastError {} samples {} \
	    lastReceived 0 lastUs [clock microseconds] achieved 0 \
	    p50 0 p99 0 max 0 seconds 0 opened 1 skip 0 stride 1 sentMark 0 \
	    seq,0 0 open,0 1]
    set load(pad) [string repeat x $size]
    set load(timer) [after 10 ::workbench::LoadUdpTick]
    set load(sampler) [after 1000 ::workbench::LoadSample]
    Notify load {}
}

# workbench::LoadUdpTick --
#	Every 10 ms: the datagrams due since the start, one send each.

proc ::workbench::LoadUdpTick {} {
    variable load
    set h [lindex $load(handles) 0]
    set now [clock microseconds]
    set due [expr {int(($now - $load(startUs)) / 1e6 * $load(rate))}]
    set seq $load(seq,0)
    while {$seq < $due} {
	set head "[incr seq] $now "
	if {[catch {$h send $load(host) $load(port) \
		$head[string range $load(pad) [string length $head] end]} \
		msg]} {
	    incr load(errors)
	    set load(lastError) $msg
	    break
	}
	incr load(sent)
    }
    set load(seq,0) $seq
    set load(timer) [after 10 ::workbench::LoadUdpTick]
}

# workbench::LoadUdpData handle batch --
#	Datagrams that came back: counted, their round trips sampled as in
#	TCP mode.

proc ::workbench::LoadUdpData {h batch} {
    variable load
    variable loadSamplesMax
    set now [clock microseconds]
    incr load(received) [llength $batch]
    foreach d $batch {
	if {[incr load(skip) -1] <= 0
		&& [llength $load(samples)] < 2 * $loadSamplesMax
		&& [scan [lindex $d 0] "%d %lld" s t] == 2} {
	    lappend load(samples) [expr {($now - $t) / 1000.0}]
	    set load(skip) $load(stride)
	}
    }
}

proc ::workbench::LoadConnected {i h} {
    variable load
    set load(open,$i) 1
    incr load(opened)
    if {$load(rate) == 0} {
	LoadSend $i $h $load(window)
    }
}

# workbench::LoadSend i handle n --
#	Sends n messages on connection i, joined into one send.

proc ::workbench::LoadSend {i h n} {
    variable load
    if {$n <= 0} {
	return
    }
    set now [clock microseconds]
    set lines {}
    set seq $load(seq,$i)
    for {set k 0} {$k < $n} {incr k} {
	set line "$i [incr seq] $now "
	lappend lines $line[string range $load(pad) [string length $line] end]
    }
    set load(seq,$i) $seq
    $h send [join $lines \n]
    incr load(sent) $n
}

# workbench::LoadTick --
#	Paced mode: every 10 ms, each open connection sends what it is due.

proc ::workbench::LoadTick {} {
    variable load
    set elapsed [expr {([clock microseconds] - $load(startUs)) / 1e6}]
    set due [expr {int($elapsed * $load(rate))}]
    set i 0
    foreach h $load(handles) {
	if {$load(open,$i)} {
	    LoadSend $i $h [expr {$due - $load(seq,$i)}]
	}
	incr i
    }
    set load(timer) [after 10 ::workbench::LoadTick]
}

# workbench::LoadData i handle batch --
#	Echoed lines: one round trip each. In fast mode, as many new ones
#	go out as came back.

proc ::workbench::LoadData {i h batch} {
    variable load
    variable loadSamplesMax
    set now [clock microseconds]
    set n [llength $batch]
    incr load(received) $n
    # Every stride-th round trip is kept, the stride set from the last
    # second's rate, so that a fast second costs no more than a slow one.
    foreach line $batch {
	if {[incr load(skip) -1] <= 0 && [llength $load(samples)] < 2 * $loadSamplesMax
		&& [scan $line "%d %d %lld" c s t] == 3} {
	    lappend load(samples) [expr {($now - $t) / 1000.0}]
	    set load(skip) $load(stride)
	}
    }
    if {$load(rate) == 0 && $load(state) eq "running"} {
	LoadSend $i $h $n
    }
}

proc ::workbench::LoadError {h message} {
    variable load
    incr load(errors)
    set load(lastError) $message
}

proc ::workbench::LoadClosed {i h reason} {
    variable load
    set load(open,$i) 0
    if {$load(state) eq "running" && [lindex $reason 0] eq "eof"} {
	incr load(errors)
	set load(lastError) "connection $i closed by the peer"
    }
    catch {$h close}
    set load(handles) [lmap x $load(handles) {
	expr {$x eq $h ? "" : $x}
    }]
}

# workbench::LoadSample --
#	Once a second: the achieved rate and the round trips of the second.

proc ::workbench::LoadSample {} {
    variable load
    LoadFigures
    incr load(seconds)
    set load(sampler) [after 1000 ::workbench::LoadSample]
    Notify load {}
}

proc ::workbench::LoadFigures {} {
    variable load
    variable loadSamplesMax
    set now [clock microseconds]
    set secs [expr {max(1e-6, ($now - $load(lastUs)) / 1e6)}]
    set load(achieved) [expr {($load(received) - $load(lastReceived)) / $secs}]
    set load(stride) [expr {max(1, int(($load(received)
	    - $load(lastReceived)) / $loadSamplesMax))}]
    set load(lastReceived) $load(received)
    set load(sentMark) $load(sent)
    set load(lastUs) $now
    lassign [percentiles $load(samples) {50 99 100}] \
	    load(p50) load(p99) load(max)
    set load(samples) {}
}
