# courier.tcl --
#
#	The Tcl half of the courier package, sourced after the C library is
#	loaded. The C commands live in ::courier; Tcl-level helpers that sit
#	on top of them go here.

namespace eval ::courier {
    variable version [package present courier]
    namespace export configure stats threads
}

# ::courier::prompt --
#
#	At the interactive tclsh prompt (courier.c installs an event loop as
#	tclsh's main loop and sets ::courier::Interactive), a callback that
#	prints leaves the screen without a prompt. A transform stacked on
#	stdout and stderr notes whether what was written last ends a line:
#	Redraw is 1 after a callback's "got: hello\n", 0 once tclsh has drawn
#	its prompt (which ends no line). The loop in courier.c draws the
#	prompt again after any event that left Redraw at 1.

namespace eval ::courier::prompt {
    variable Redraw 0
}

# Transform subcommand handle ?data? --
#	The transform (chan push): passes every byte through unchanged.
proc ::courier::prompt::Transform {subcommand handle args} {
    variable Redraw
    switch -- $subcommand {
	initialize {
	    return {initialize finalize write}
	}
	write {
	    set data [lindex $args 0]
	    if {$data ne ""} {
		set Redraw [expr {[string index $data end] eq "\n"}]
	    }
	    return $data
	}
    }
    return
}

if {[info exists ::courier::Interactive]
	&& [info exists ::tcl_interactive] && $::tcl_interactive} {
    foreach chan {stdout stderr} {
	catch {chan push $chan ::courier::prompt::Transform}
    }
    unset -nocomplain chan
}

# ::courier::co --
#
#	The coroutine API: calls that read like blocking code (connect,
#	receive, accept, select, sleep) but suspend only the calling
#	coroutine, never the event loop. Pure Tcl over the C commands:
#
#	- Every connection co:: knows is "adopted": its -ondata, -onclose
#	  and -ondrain call back into this namespace, which queues messages
#	  per connection, so nothing that arrives while no coroutine waits
#	  is lost, and order is kept.
#	- A coroutine that has to wait registers a token under one or more
#	  wait keys ("data:$conn", "accept:$server", ...), maybe a timer,
#	  and a trace on its own command, then yields. Whatever ends the
#	  wait first (a message, a timeout, a close) removes all three
#	  before it resumes the coroutine; a coroutine deleted while it waits
#	  removes them from its trace. So nothing is left behind either way.
#	- A coroutine is resumed directly from the callback that made it
#	  ready (no extra event-loop turn), except when a handle is being
#	  deleted: then the wake-up goes through "after 0", so that no
#	  coroutine code runs inside the C side's close of the handle.

namespace eval ::courier::co {
    namespace export accept adopt close connect go listen receive select \
	    send sleep starttls status
    namespace ensemble create

    # Per adopted connection $c (its fully qualified handle name):
    variable Q;		array set Q {}		;# queued messages ...
    variable H;		array set H {}		;# ... taken from index H($c)
    variable Bytes;	array set Bytes {}	;# string length of the queue
    variable Limit;	array set Limit {}	;# -maxpending: pause above it
    # What a queued message costs against Limit: its string length plus
    # this much (its Tcl_Obj and list slot), so that a flood of empty
    # messages pauses the connection as surely as a flood of long ones.
    variable Overhead 64
    variable Paused;	array set Paused {}	;# 1 while co:: holds c paused
    variable Open;	array set Open {}	;# exists once c is connected
    variable Reason;	array set Reason {}	;# exists once c closed: why
    variable From;	array set From {}	;# listener of a queued accept
    variable TlsDone;	array set TlsDone {}	;# how c's starttls ended
    # Per raw connection read with receive -bytes or -line: the bytes
    # taken from the queue and not yet returned, from offset Off($c).
    variable Buf;	array set Buf {}
    variable Off;	array set Off {}
    # Per adopted listener $s: connections accepted, not yet taken.
    variable Accepted;	array set Accepted {}
    # Per waiting coroutine, by wait token $t:
    variable Coro;	array set Coro {}	;# the coroutine's command
    variable Keys;	array set Keys {}	;# the wait keys it is under
    variable Timer;	array set Timer {}	;# its timeout (or wake-up)
    variable Abandon;	array set Abandon {} ;# run if it is deleted
    # Per wait key: the tokens waiting on it, first come first served.
    variable Waiters;	array set Waiters {}
    variable Seq 0
    variable Woken ""			;# the status a Wake passes on
    variable GoSeq 0			;# numbers the coroutines of go
}

#----------------------------------------------------------------------
# Errors and argument checks.
#----------------------------------------------------------------------

# Options argList --
#	The timeout of "?-timeout ms?", the only option of the waiting
#	calls: 0 (none) when absent.
proc ::courier::co::Options {argList} {
    set ms 0
    foreach {opt value} $argList {
	if {$opt ne "-timeout"} {
	    throw [list COURIER OPTION $opt] \
		    "bad option \"$opt\": must be -timeout"
	}
	if {[llength $argList] % 2} {
	    throw {COURIER USAGE} "value for \"-timeout\" missing"
	}
	set ms [Milliseconds -timeout $value]
    }
    return $ms
}

# Milliseconds what value --
#	value as a count of milliseconds that "after" accepts.
proc ::courier::co::Milliseconds {what value} {
    if {![string is integer -strict $value] || $value < 0
	    || $value > 0x7fffffff} {
	throw [list COURIER VALUE $what] "bad value \"$value\" for $what:\
		expected an integer from 0 to 2147483647"
    }
    return [expr {$value}]
}

# Usage cmd args --
#	The "wrong # args" error of courier::co::$cmd.
proc ::courier::co::Usage {cmd args} {
    throw {COURIER USAGE} \
	    "wrong # args: should be \"courier::co::$cmd [join $args]\""
}

# NeedCoro cmd --
#	The waiting calls suspend the calling coroutine: outside one they
#	could only block the event loop, which is what this API is not for.
proc ::courier::co::NeedCoro {cmd} {
    if {[::info coroutine] eq ""} {
	throw {COURIER NOTCORO} \
		"courier::co::$cmd must be called from a coroutine"
    }
}

# Deadline ms --
#	The clock time at which a wait of ms ends ("" for none). Waits that
#	loop keep one deadline, so a wake-up that finds nothing to do does
#	not restart the clock.
proc ::courier::co::Deadline {ms} {
    if {$ms == 0} {
	return ""
    }
    return [expr {[clock milliseconds] + $ms}]
}

# Closed c reason ?option value ...? --
#	Raises {COURIER CLOSED reason...} from the caller: c is closed and
#	has nothing left queued. The reason is the -onclose one, or {closed}
#	when this side closed the handle.
proc ::courier::co::Closed {c reason args} {
    if {$reason eq "closed"} {
	set text "connection \"$c\" was closed"
    } else {
	set text "connection \"$c\" is closed: [lindex $reason 0]"
	if {[llength $reason] > 1 && [lindex $reason 1] ne ""} {
	    append text " ([lindex $reason 1])"
	}
    }
    return -code error -level 2 -errorcode [list COURIER CLOSED {*}$reason] \
	    {*}$args $text
}

# Resolve h --
#	The fully qualified name of handle h, or "" when there is no such
#	command. Handles are returned qualified; a name relative to the
#	global namespace works too.
proc ::courier::co::Resolve {h} {
    return [namespace eval :: [list namespace which -command $h]]
}

# Conn c --
#	c as a connection adopted by co::, or an error that says what it is.
proc ::courier::co::Conn {c} {
    variable Q
    if {[::info exists Q($c)]} {
	return $c			;# The common case: cheap.
    }
    set full [Resolve $c]
    if {$full ne "" && [::info exists Q($full)]} {
	return $full
    }
    if {[regexp {^::courier::(conn|udp)\d+$} $full]} {
	throw {COURIER USAGE} "connection \"$c\" is not managed by\
		courier::co: adopt it first (courier::co::adopt $c)"
    }
    throw [list COURIER HANDLE $c] \
	    "no courier::co connection named \"$c\" in this interpreter"
}

# Listener s --
#	s as a listener adopted by co::, or an error.
proc ::courier::co::Listener {s} {
    variable Accepted
    if {[::info exists Accepted($s)]} {
	return $s
    }
    set full [Resolve $s]
    if {$full ne "" && [::info exists Accepted($full)]} {
	return $full
    }
    if {[regexp {^::courier::server\d+$} $full]} {
	throw {COURIER USAGE} "listener \"$s\" is not managed by\
		courier::co: adopt it first (courier::co::adopt $s)"
    }
    throw [list COURIER HANDLE $s] \
	    "no courier::co listener named \"$s\" in this interpreter"
}

# BgError message options --
#	An error of a resumed coroutine: the coroutine has no caller to
#	return it to, so it goes where errors of callbacks go.
proc ::courier::co::BgError {message options} {
    if {[catch {uplevel #0 [list {*}[interp bgerror {}] $message $options]}]} {
	puts stderr [dict get $options -errorinfo]
    }
}

#----------------------------------------------------------------------
# Waiting and waking.
#----------------------------------------------------------------------

# Wait keys deadline ?abandon? --
#	Suspends the calling coroutine until Wake resumes it under one of
#	keys, or the deadline passes. Returns the status the waker passed:
#	"" (something happened: look again), "timeout", or {gone handle
#	reason} (the handle was deleted). abandon is a script run at global
#	level if the coroutine is deleted while it waits.
proc ::courier::co::Wait {keys deadline {abandon {}}} {
    variable Coro
    variable Keys
    variable Timer
    variable Abandon
    variable Waiters
    variable Seq
    variable Woken

    set coro [::info coroutine]
    set t [incr Seq]
    set Coro($t) $coro
    set Keys($t) $keys
    foreach k $keys {
	lappend Waiters($k) $t
    }
    if {$deadline ne ""} {
	set Timer($t) [after [expr {max(0, $deadline - [clock milliseconds])}] \
		[list ::courier::co::Wake $t timeout]]
    }
    if {$abandon ne ""} {
	set Abandon($t) $abandon
    }
    trace add command $coro {rename delete} [list ::courier::co::CoroTraced $t]
    set wakeWord "::courier::co::Wake $t"
    while 1 {
	if {[catch {yield} got options]} {
	    # yield itself failed (e.g. a C stack in the way).
	    Forget $t
	    return -options $options $got
	}
	# Only our own wake-up ends the wait. Someone else who calls the
	# coroutine while it waits gets "" and the wait goes on: the waiting
	# call keeps its blocking-code meaning.
	if {$got eq $wakeWord} {
	    return $Woken
	}
    }
}

# Wake t status --
#	Ends wait t: removes what it left (keys, timer, trace), then resumes
#	its coroutine with status. A token already gone is a no-op, so stale
#	timers and double wake-ups do nothing.
proc ::courier::co::Wake {t status} {
    variable Coro
    variable Woken
    if {![::info exists Coro($t)]} {
	return
    }
    set coro $Coro($t)
    Forget $t
    # The status goes through Woken, which the coroutine reads first
    # thing: resuming it is synchronous.
    set Woken $status
    if {[catch {$coro "::courier::co::Wake $t"} msg opts] == 1} {
	BgError $msg $opts
    }
}

# WakeLater t status --
#	Wake, from the event loop: for wake-ups found while a handle is being
#	deleted. The wait leaves its keys now; the "after 0" becomes its
#	timer, so a coroutine deleted meanwhile cancels it.
proc ::courier::co::WakeLater {t status} {
    variable Keys
    variable Timer
    foreach k $Keys($t) {
	Unregister $k $t
    }
    set Keys($t) {}
    if {[::info exists Timer($t)]} {
	after cancel $Timer($t)
    }
    set Timer($t) [after 0 [list ::courier::co::Wake $t $status]]
}

# WakeAll key status --
#	Wakes every coroutine waiting under key, oldest first.
proc ::courier::co::WakeAll {key status} {
    variable Waiters
    if {![::info exists Waiters($key)]} {
	return
    }
    # A woken coroutine may wait again under the same key: it must not be
    # woken twice, so walk a copy and let Wake skip tokens that ended.
    foreach t $Waiters($key) {
	Wake $t $status
    }
}

# Forget t --
#	Removes every trace of wait t.
proc ::courier::co::Forget {t} {
    variable Coro
    variable Keys
    variable Timer
    variable Abandon
    variable Waiters
    foreach k $Keys($t) {
	if {[::info exists Waiters($k)]} {
	    Unregister $k $t
	}
    }
    if {[::info exists Timer($t)]} {
	after cancel $Timer($t)
	unset Timer($t)
    }
    # The command is gone already when its deletion brought us here.
    catch {trace remove command $Coro($t) {rename delete} \
	    [list ::courier::co::CoroTraced $t]}
    unset Coro($t) Keys($t)
    unset -nocomplain Abandon($t)
}

# Unregister key t --
#	Takes token t off the waiters of key.
proc ::courier::co::Unregister {key t} {
    variable Waiters
    if {![::info exists Waiters($key)]} {
	return
    }
    set i [lsearch -exact $Waiters($key) $t]
    if {$i >= 0} {
	set Waiters($key) [lreplace $Waiters($key) $i $i]
    }
    if {[llength $Waiters($key)] == 0} {
	unset Waiters($key)
    }
}

# CoroTraced t old new op --
#	The waiting coroutine was renamed (follow it) or deleted (forget
#	the wait, and let go of what only it knew about).
proc ::courier::co::CoroTraced {t old new op} {
    variable Coro
    variable Abandon
    if {![::info exists Coro($t)]} {
	return
    }
    if {$op eq "rename" && $new ne ""} {
	set Coro($t) $new
	return
    }
    set abandon [expr {[::info exists Abandon($t)] ? $Abandon($t) : ""}]
    Forget $t
    if {$abandon ne "" && [catch {uplevel #0 $abandon} msg opts]} {
	BgError $msg $opts
    }
}

#----------------------------------------------------------------------
# Callbacks of adopted handles.
#----------------------------------------------------------------------

proc ::courier::co::OnData {c message} {
    variable Q
    variable H
    variable Bytes
    variable Overhead
    variable Waiters
    lappend Q($c) $message
    if {[incr Bytes($c) [string length $message]] + $Overhead
	    * ([llength $Q($c)] - $H($c)) > $::courier::co::Limit($c)} {
	Full $c
    }
    if {[::info exists Waiters(data:$c)]} {
	Feed $c
    }
}

# OnBatch c messages --
#	-ondata of a connection with -batch 1: queued one by one, so that
#	co::receive always returns single messages.
proc ::courier::co::OnBatch {c messages} {
    variable Q
    variable H
    variable Bytes
    variable Overhead
    variable Waiters
    foreach message $messages {
	lappend Q($c) $message
	incr Bytes($c) [string length $message]
    }
    if {$Bytes($c) + $Overhead * ([llength $Q($c)] - $H($c))
	    > $::courier::co::Limit($c)} {
	Full $c
    }
    if {[::info exists Waiters(data:$c)]} {
	Feed $c
    }
}

# OnDatagram u data host port --
#	-ondata of an adopted UDP socket: each datagram is queued as the
#	triple {data host port} that receive returns.
proc ::courier::co::OnDatagram {u data host port} {
    OnData $u [list $data $host $port]
}

# OnDatagrams u triples --
#	The same with -batch 1.
proc ::courier::co::OnDatagrams {u triples} {
    OnBatch $u $triples
}

# Full c --
#	The queue passed the limit (its bytes plus Overhead per message):
#	stop reading the socket (TCP then holds the peer back) until
#	receive has taken it down to half.
proc ::courier::co::Full {c} {
    variable Paused
    variable Limit
    variable Q
    variable H
    variable Bytes
    variable Overhead
    if {$Paused($c)} {
	return
    }
    # Read the limit again now, rarely, so a -maxpending configured after
    # adoption is honoured.
    set Limit($c) [$c cget -maxpending]
    if {$Bytes($c) + $Overhead * ([llength $Q($c)] - $H($c)) > $Limit($c)} {
	set Paused($c) 1
	$c pause
    }
}

# Feed c --
#	Wakes waiting coroutines, oldest first, while c has messages for
#	them. Each takes its message before Wake returns.
proc ::courier::co::Feed {c} {
    variable Waiters
    variable Q
    variable H
    while {[::info exists Waiters(data:$c)] && [::info exists Q($c)]
	    && $H($c) < [llength $Q($c)]} {
	# Off the list before Wake, so the loop ends whatever Wake does.
	set Waiters(data:$c) [lassign $Waiters(data:$c) t]
	if {![llength $Waiters(data:$c)]} {
	    unset Waiters(data:$c)
	}
	Wake $t {}
    }
}

proc ::courier::co::OnConnect {c} {
    variable Open
    set Open($c) 1
    WakeAll open:$c {}
}

proc ::courier::co::OnClose {c reason} {
    variable Reason
    set Reason($c) $reason
    foreach key [list data:$c open:$c drain:$c] {
	WakeAll $key {}
    }
}

proc ::courier::co::OnDrain {c} {
    WakeAll drain:$c {}
}

proc ::courier::co::OnAccept {s c host port} {
    variable Accepted
    variable From
    variable Waiters
    AdoptConn $c
    lappend Accepted($s) $c
    set From($c) $s
    while {[::info exists Waiters(accept:$s)] && [llength $Accepted($s)]} {
	set t [lindex $Waiters(accept:$s) 0]
	Unregister accept:$s $t
	Wake $t {}
    }
}

# Gone h old new op --
#	Handle h is being deleted (closed by anyone, renamed away, its
#	interpreter going): forget it, and tell those who wait on it, from
#	the event loop (see the top of this namespace).
proc ::courier::co::Gone {h args} {
    variable Q
    variable H
    variable Bytes
    variable Limit
    variable Paused
    variable Open
    variable Reason
    variable From
    variable Accepted
    variable Waiters

    set reason [expr {[::info exists Reason($h)] ? $Reason($h) : "closed"}]
    foreach key [list data:$h open:$h drain:$h accept:$h tls:$h] {
	if {[::info exists Waiters($key)]} {
	    foreach t $Waiters($key) {
		WakeLater $t [list gone $h $reason]
	    }
	}
    }
    if {[::info exists From($h)]} {
	# Accepted and never taken: no longer on offer.
	set s $From($h)
	set i [lsearch -exact $Accepted($s) $h]
	set Accepted($s) [lreplace $Accepted($s) $i $i]
	unset From($h)
    }
    if {[::info exists Accepted($h)]} {
	# A listener: what it accepted and no one took, no one ever will.
	foreach c $Accepted($h) {
	    unset From($c)
	    catch {$c close}
	}
	unset Accepted($h)
    }
    unset -nocomplain Q($h) H($h) Bytes($h) Limit($h) Paused($h) Open($h) \
	    Reason($h) ::courier::co::Buf($h) ::courier::co::Off($h) \
	    ::courier::co::TlsDone($h)
}

#----------------------------------------------------------------------
# The queue of a connection.
#----------------------------------------------------------------------

# Take c --
#	The oldest queued message of c (there is one).
proc ::courier::co::Take {c} {
    variable Q
    variable H
    variable Bytes
    variable Overhead
    variable Paused
    set message [lindex $Q($c) $H($c)]
    # Drop the queue's reference now (the list is unshared: lset works in
    # place); shorten the list only now and then, so taking stays O(1).
    lset Q($c) $H($c) {}
    if {[incr H($c)] == [llength $Q($c)]} {
	set Q($c) {}
	set H($c) 0
    } elseif {$H($c) >= 1024 && 2 * $H($c) >= [llength $Q($c)]} {
	set Q($c) [lrange $Q($c) $H($c) end]
	set H($c) 0
    }
    incr Bytes($c) -[string length $message]
    if {$Paused($c) && 2 * ($Bytes($c) + $Overhead
	    * ([llength $Q($c)] - $H($c))) <= $::courier::co::Limit($c)} {
	set Paused($c) 0
	if {![::info exists ::courier::co::Reason($c)]} {
	    $c resume
	}
    }
    return $message
}

#----------------------------------------------------------------------
# Adoption.
#----------------------------------------------------------------------

# NewQueue h --
#	The empty message queue of a newly adopted connection or UDP socket,
#	with its pause limit, and the trace that forgets it when h goes.
proc ::courier::co::NewQueue {h} {
    variable Q
    variable H
    variable Bytes
    variable Limit
    variable Paused
    set Q($h) {}
    set H($h) 0
    set Bytes($h) 0
    set Limit($h) [$h cget -maxpending]
    set Paused($h) 0
    trace add command $h delete ::courier::co::Gone
}

proc ::courier::co::AdoptConn {c} {
    variable Q
    variable Open
    variable Reason
    if {[::info exists Q($c)]} {
	return
    }
    set info [$c info]
    set handler [expr {[$c cget -batch] ? "OnBatch" : "OnData"}]
    $c configure -ondata ::courier::co::$handler \
	    -onclose ::courier::co::OnClose -ondrain ::courier::co::OnDrain
    NewQueue $c
    switch -- [dict get $info state] {
	open { set Open($c) 1 }
	closed {
	    set Reason($c) [dict get $info reason]
	    if {$Reason($c) eq ""} {
		set Reason($c) closed
	    }
	}
    }
}

# AdoptUdp u --
#	A UDP socket: its datagrams are queued like a connection's messages
#	(as {data host port}); it is open from the start and never closes
#	on its own.
proc ::courier::co::AdoptUdp {u} {
    variable Q
    variable Open
    if {[::info exists Q($u)]} {
	return
    }
    set handler [expr {[$u cget -batch] ? "OnDatagrams" : "OnDatagram"}]
    $u configure -ondata ::courier::co::$handler
    NewQueue $u
    set Open($u) 1
}

proc ::courier::co::AdoptListener {s} {
    variable Accepted
    if {[::info exists Accepted($s)]} {
	return
    }
    $s configure -onaccept ::courier::co::OnAccept
    set Accepted($s) {}
    trace add command $s delete ::courier::co::Gone
}

#----------------------------------------------------------------------
# The public commands.
#----------------------------------------------------------------------

# courier::co::adopt handle --
#	Takes over a handle made by courier::connect (its -ondata, -onclose
#	and -ondrain) or courier::listen (its -onaccept), for use with the
#	other co:: calls. Returns the handle's qualified name.
proc ::courier::co::adopt {args} {
    if {[llength $args] != 1} {
	Usage adopt handle
    }
    set h [lindex $args 0]
    set full [Resolve $h]
    if {[regexp {^::courier::conn\d+$} $full]} {
	AdoptConn $full
    } elseif {[regexp {^::courier::server\d+$} $full]} {
	AdoptListener $full
    } elseif {[regexp {^::courier::udp\d+$} $full]} {
	AdoptUdp $full
    } else {
	throw [list COURIER HANDLE $h] "no connection, listener or UDP\
		socket named \"$h\" in this interpreter"
    }
    return $full
}

# courier::co::connect host port ?option value ...? --
#	courier::connect, then waits until the connection is open. Every
#	option of courier::connect may be given (its -timeout bounds lookup
#	and connect) except the callbacks courier::co sets itself.
proc ::courier::co::connect {args} {
    variable Open
    variable Reason
    if {[llength $args] < 2} {
	Usage connect host port ?option value ...?
    }
    lassign $args host port
    if {[llength $args] % 2} {
	# Said here: the -onconnect appended below would pass for its value.
	throw {COURIER USAGE} "value for \"[lindex $args end]\" missing"
    }
    NoCallbacks connect [lrange $args 2 end] -onconnect -ondata -onclose \
	    -ondrain
    NeedCoro connect
    set c [::courier::connect {*}$args -onconnect ::courier::co::OnConnect]
    AdoptConn $c
    while {![::info exists Open($c)] && ![::info exists Reason($c)]} {
	# Deleted while it waits, the coroutine leaves c to no one: close it.
	set status [Wait [list open:$c] "" [list $c close -now]]
	if {[lindex $status 0] eq "gone"} {
	    Closed $c [lindex $status 2]
	}
    }
    if {[::info exists Open($c)]} {
	return $c
    }
    # The handle was never the caller's: it goes with the error.
    set reason $Reason($c)
    $c close
    set code [expr {[lindex $reason 0] eq "timeout"
	    ? {COURIER TIMEOUT} : [list COURIER CLOSED {*}$reason]}]
    return -code error -errorcode $code \
	    "cannot connect to $host port $port: [lindex $reason 1]"
}

# courier::co::starttls conn ?option value ...? --
#	$conn starttls (TLS on a plaintext connection, see courier(n)),
#	then waits until the handshake has ended: returns once it succeeded,
#	raises {COURIER TLS HANDSHAKE} with the reason if it failed (the
#	connection is then closed). Takes starttls's options but -command,
#	which courier::co sets itself.
proc ::courier::co::starttls {args} {
    variable TlsDone
    variable Reason
    if {[llength $args] < 1} {
	Usage starttls conn ?option value ...?
    }
    set c [Conn [lindex $args 0]]
    NoCallbacks starttls [lrange $args 1 end] -command
    NeedCoro starttls
    unset -nocomplain TlsDone($c)
    $c starttls {*}[lrange $args 1 end] \
	    -command ::courier::co::OnStartTls
    while {![::info exists TlsDone($c)]} {
	set status [Wait [list tls:$c] ""]
	if {[lindex $status 0] eq "gone"} {
	    Closed $c [lindex $status 2]
	}
    }
    set outcome $TlsDone($c)
    unset TlsDone($c)
    if {[lindex $outcome 0] ne "ok"} {
	return -code error -errorcode {COURIER TLS HANDSHAKE} \
		"starttls on \"$c\" failed: [lindex $outcome 1]"
    }
    return
}

# OnStartTls c status ?message? --
#	starttls's -command: the handshake ended (ok, or error message).
proc ::courier::co::OnStartTls {c status args} {
    variable TlsDone
    set TlsDone($c) [list $status {*}$args]
    WakeAll tls:$c {}
}

# NoCallbacks cmd options name ... --
#	The callbacks courier::co installs cannot be given by the caller.
proc ::courier::co::NoCallbacks {cmd options args} {
    foreach {opt value} $options {
	if {$opt in $args} {
	    throw [list COURIER USAGE $opt] "option \"$opt\" cannot be\
		    given to courier::co::$cmd: courier::co sets it itself"
	}
    }
}

# courier::co::listen port ?option value ...? --
#	courier::listen whose accepted connections wait, adopted, for
#	co::accept.
proc ::courier::co::listen {args} {
    if {[llength $args] < 1} {
	Usage listen port ?option value ...?
    }
    NoCallbacks listen [lrange $args 1 end] -onaccept -ondata -onclose \
	    -ondrain
    set s [::courier::listen {*}$args]
    AdoptListener $s
    return $s
}

# courier::co::receive conn ?-bytes n|-line? ?-timeout ms? --
#	The next message of conn, in order: from the queue, or the first to
#	arrive. Once conn is closed and its queue empty: COURIER CLOSED.
#	With -bytes or -line (raw framing only), the next n bytes or the next
#	line of the byte stream, whatever chunks it came in: see Stream.
proc ::courier::co::receive {args} {
    variable Q
    variable H
    variable Reason
    variable Buf
    # The common case, a message already queued, takes the short way.
    if {[llength $args] == 1} {
	set c [lindex $args 0]
	set ms 0
    } elseif {[llength $args] == 3 && [lindex $args 1] eq "-timeout"} {
	set ms [Options [lassign $args c]]
    } elseif {[llength $args] <= 5 && ("-bytes" in $args || "-line" in $args
	    || ([llength $args] == 3 && [lindex $args 1] ne "-timeout"))} {
	return [Stream {*}$args]
    } else {
	Usage receive conn ?-bytes n|-line? ?-timeout ms?
    }
    if {[::info coroutine] eq ""} {
	NeedCoro receive
    }
    if {![::info exists Q($c)]} {
	set c [Conn $c]
    }
    if {[::info exists Buf($c)] && [set rest [Rest $c]] ne ""} {
	# Bytes left over by -bytes or -line come first.
	return $rest
    }
    if {$H($c) < [llength $Q($c)]} {
	return [Take $c]
    }
    set deadline [Deadline $ms]
    while 1 {
	if {$H($c) < [llength $Q($c)]} {
	    return [Take $c]
	}
	if {[::info exists Reason($c)]} {
	    Closed $c $Reason($c)
	}
	set status [Wait [list data:$c] $deadline]
	if {$status eq "timeout"} {
	    throw {COURIER TIMEOUT} \
		    "timed out after $ms ms waiting for a message on \"$c\""
	}
	if {[lindex $status 0] eq "gone"} {
	    Closed $c [lindex $status 2]
	}
    }
}

# Stream conn ?-bytes n|-line? ?-timeout ms? --
#	receive -bytes and -line: reads the byte stream of a raw connection
#	as Tcl's read and gets read a channel. The chunks of the queue are
#	joined in Buf(c); what a call does not return stays there for the
#	next receive, whichever form it takes, so the framing can change at
#	every message. -bytes n returns exactly n bytes (a byte array);
#	-line the bytes up to the next LF, without the LF or a CR before it,
#	decoded with the connection's -encoding (bytes for binary), and
#	raises COURIER TOOBIG when -maxmessage bytes pass without an LF.
#	When the connection closes first, the bytes stay for a plain receive.
proc ::courier::co::Stream {args} {
    variable Q
    variable H
    variable Reason
    variable Buf
    variable Off
    set c [lindex $args 0]
    set want ""
    set ms 0
    set rest [lrange $args 1 end]
    while {[llength $rest]} {
	set rest [lassign $rest opt]
	switch -- $opt {
	    -bytes {
		if {![llength $rest] || $want ne ""} {
		    Usage receive conn ?-bytes n|-line? ?-timeout ms?
		}
		set rest [lassign $rest n]
		if {![string is integer -strict $n] || $n < 0
			|| $n > 0x7fffffff} {
		    throw {COURIER VALUE -bytes} "bad value \"$n\" for\
			    -bytes: expected an integer from 0 to 2147483647"
		}
		set want bytes
	    }
	    -line {
		if {$want ne ""} {
		    Usage receive conn ?-bytes n|-line? ?-timeout ms?
		}
		set want line
	    }
	    -timeout {
		if {![llength $rest]} {
		    throw {COURIER USAGE} "value for \"-timeout\" missing"
		}
		set rest [lassign $rest value]
		set ms [Milliseconds -timeout $value]
	    }
	    default {
		throw [list COURIER OPTION $opt] "bad option \"$opt\":\
			must be -bytes, -line, or -timeout"
	    }
	}
    }
    if {$want eq ""} {
	Usage receive conn ?-bytes n|-line? ?-timeout ms?
    }
    NeedCoro receive
    set c [Conn $c]
    if {[string match ::courier::udp* $c]} {
	throw [list COURIER USAGE -$want] "courier::co::receive -$want reads\
		a byte stream: \"$c\" is a UDP socket, which delivers datagrams"
    }
    set framing [$c cget -framing]
    if {$framing ne "raw"} {
	throw [list COURIER USAGE -$want] "courier::co::receive -$want needs\
		a connection with -framing raw: \"$c\" has -framing $framing"
    }
    if {![::info exists Buf($c)]} {
	set Buf($c) ""
	set Off($c) 0
    }
    if {$want eq "line"} {
	set limit [$c cget -maxmessage]
	set from $Off($c)
    }
    set deadline [Deadline $ms]
    while 1 {
	if {$want eq "bytes"} {
	    if {[string length $Buf($c)] - $Off($c) >= $n} {
		set end [expr {$Off($c) + $n}]
		set result [string range $Buf($c) $Off($c) $end-1]
		Consumed $c $end
		return $result
	    }
	} else {
	    set i [string first \n $Buf($c) $from]
	    if {$i >= 0} {
		set end $i
		if {$end > $Off($c)
			&& [string index $Buf($c) $end-1] eq "\r"} {
		    incr end -1
		}
		set result [string range $Buf($c) $Off($c) $end-1]
		Consumed $c [expr {$i + 1}]
		set encoding [$c cget -encoding]
		if {$encoding ne "binary"} {
		    set result [encoding convertfrom $encoding $result]
		}
		return $result
	    }
	    set from [string length $Buf($c)]
	    if {$from - $Off($c) > $limit} {
		throw [list COURIER TOOBIG] "no end of line in the\
			[expr {$from - $Off($c)}] bytes queued on \"$c\",\
			more than its -maxmessage ($limit)"
	    }
	}
	if {$H($c) < [llength $Q($c)]} {
	    append Buf($c) [Take $c]
	    continue
	}
	if {[::info exists Reason($c)]} {
	    Closed $c $Reason($c)
	}
	set status [Wait [list data:$c] $deadline]
	if {$status eq "timeout"} {
	    throw {COURIER TIMEOUT} "timed out after $ms ms waiting for\
		    [expr {$want eq "line" ? "a line" : "$n bytes"}] on \"$c\""
	}
	if {[lindex $status 0] eq "gone"} {
	    Closed $c [lindex $status 2]
	}
    }
}

# Consumed c end --
#	The bytes of Buf(c) before offset end are taken: forget them, now
#	and then, so that taking many short pieces of a long buffer stays
#	linear.
proc ::courier::co::Consumed {c end} {
    variable Buf
    variable Off
    if {$end >= [string length $Buf($c)]} {
	unset Buf($c) Off($c)
    } elseif {$end > 65536 && 2 * $end > [string length $Buf($c)]} {
	set Buf($c) [string range $Buf($c) $end end]
	set Off($c) 0
    } else {
	set Off($c) $end
    }
}

# Rest c --
#	What Buf(c) holds, for a plain receive: the bytes left over (maybe
#	none).
proc ::courier::co::Rest {c} {
    variable Buf
    variable Off
    set result [string range $Buf($c) $Off($c) end]
    unset Buf($c) Off($c)
    return $result
}

# courier::co::select conns ?-timeout ms? --
#	{conn message} from whichever of conns has a message first (when
#	several have one queued already: the first in the list). When none
#	has and one is closed: COURIER CLOSED, with -conn in the options.
proc ::courier::co::select {args} {
    variable Q
    variable H
    variable Reason
    if {[llength $args] != 1 && [llength $args] != 3} {
	Usage select conns ?-timeout ms?
    }
    set ms [Options [lassign $args conns]]
    if {[catch {llength $conns} n] || $n == 0} {
	throw {COURIER USAGE} "courier::co::select needs a non-empty list\
		of connections"
    }
    NeedCoro select
    set conns [lmap c $conns {Conn $c}]
    set keys [lmap c $conns {string cat data: $c}]
    set deadline [Deadline $ms]
    while 1 {
	foreach c $conns {
	    if {[::info exists ::courier::co::Buf($c)]
		    && [set rest [Rest $c]] ne ""} {
		return [list $c $rest]
	    }
	    if {$H($c) < [llength $Q($c)]} {
		return [list $c [Take $c]]
	    }
	}
	foreach c $conns {
	    if {[::info exists Reason($c)]} {
		Closed $c $Reason($c) -conn $c
	    }
	}
	set status [Wait $keys $deadline]
	if {$status eq "timeout"} {
	    throw {COURIER TIMEOUT} "timed out after $ms ms waiting for a\
		    message on any of [llength $conns] connections"
	}
	if {[lindex $status 0] eq "gone"} {
	    lassign $status - c reason
	    Closed $c $reason -conn $c
	}
    }
}

# courier::co::send conn data ?-timeout ms? --
#	$conn send; then, while the output is above -sendbuffer, waits for
#	it to drain, so a coroutine that sends in a loop is held back by
#	the peer instead of growing memory. On a UDP socket, -to {host port}
#	names the receiver (else the connected peer) and nothing waits:
#	datagrams are not held back.
proc ::courier::co::send {args} {
    variable Q
    variable Reason
    if {[llength $args] < 2 || [llength $args] % 2} {
	Usage send conn data ?-timeout ms? "?-to {host port}?"
    }
    set options [lassign $args c data]
    set to {}
    if {[dict exists $options -to]} {
	set to [dict get $options -to]
	dict unset options -to
    }
    set ms [Options $options]
    NeedCoro send
    set c [Conn $c]
    if {[string match ::courier::udp* $c]} {
	if {[llength $to] ni {0 2}} {
	    throw {COURIER VALUE -to} "bad value \"$to\" for -to: expected\
		    a list of a host and a port"
	}
	$c send {*}$to $data
	return
    }
    if {[llength $to]} {
	throw {COURIER OPTION -to} "option \"-to\" is for UDP sockets:\
		\"$c\" is a connection"
    }
    if {[::info exists Reason($c)]} {
	Closed $c $Reason($c)
    }
    $c send $data
    set deadline [Deadline $ms]
    while {[::info exists Q($c)] && ![::info exists Reason($c)]
	    && [dict get [$c info] sendBufferFull]} {
	set status [Wait [list drain:$c] $deadline]
	if {$status eq "timeout"} {
	    throw {COURIER TIMEOUT} "timed out after $ms ms waiting for\
		    \"$c\" to drain its output"
	}
    }
    # Closed meanwhile: the data was queued all the same; the next call
    # says that the connection is closed.
    return
}

# courier::co::accept listener ?-timeout ms? --
#	The next connection the listener accepted (adopted).
proc ::courier::co::accept {args} {
    variable Accepted
    variable From
    if {[llength $args] != 1 && [llength $args] != 3} {
	Usage accept listener ?-timeout ms?
    }
    set ms [Options [lassign $args s]]
    NeedCoro accept
    set s [Listener $s]
    set deadline [Deadline $ms]
    while 1 {
	if {[llength $Accepted($s)]} {
	    set Accepted($s) [lassign $Accepted($s) c]
	    unset From($c)
	    return $c
	}
	set status [Wait [list accept:$s] $deadline]
	if {$status eq "timeout"} {
	    throw {COURIER TIMEOUT} \
		    "timed out after $ms ms waiting for a connection on \"$s\""
	}
	if {[lindex $status 0] eq "gone"} {
	    throw {COURIER CLOSED closed} "listener \"$s\" is closed"
	}
    }
}

# courier::co::sleep ms --
#	Resumes the calling coroutine after ms; the event loop runs meanwhile.
proc ::courier::co::sleep {args} {
    if {[llength $args] != 1} {
	Usage sleep ms
    }
    set ms [Milliseconds ms [lindex $args 0]]
    NeedCoro sleep
    set deadline [expr {[clock milliseconds] + $ms}]
    while {[Wait {} $deadline] ne "timeout"} {}
    return
}

# courier::co::close handle ?-now? --
#	Closes a connection or listener; coroutines waiting on it get
#	COURIER CLOSED. Messages still queued are dropped.
proc ::courier::co::close {args} {
    if {[llength $args] < 1 || [llength $args] > 2
	    || ([llength $args] == 2 && [lindex $args 1] ne "-now")} {
	Usage close handle ?-now?
    }
    set h [lindex $args 0]
    set full [Resolve $h]
    if {[regexp {^::courier::conn\d+$} $full]} {
	$full close {*}[lrange $args 1 end]
    } elseif {[regexp {^::courier::(server|udp)\d+$} $full]} {
	$full close
    } else {
	throw [list COURIER HANDLE $h] "no connection, listener or UDP\
		socket named \"$h\" in this interpreter"
    }
    return
}

# courier::co::go script --
#	Starts a coroutine, named ::courier::co::goN, that runs script as the
#	body of a procedure with no arguments (its variables are local; its
#	namespace is the global one), and returns its name once the script
#	first waits or ends. An error that ends the script goes to bgerror,
#	whether it comes before its first wait or after.
proc ::courier::co::go {args} {
    variable GoSeq
    if {[llength $args] != 1} {
	Usage go script
    }
    set name ::courier::co::go[incr GoSeq]
    while {[::info commands $name] ne ""} {
	set name ::courier::co::go[incr GoSeq]
    }
    coroutine $name ::courier::co::Go [lindex $args 0]
    return $name
}

# Go script --
#	The body of a coroutine of go.
proc ::courier::co::Go {script} {
    if {[catch {apply [list {} $script ::]} message options] == 1} {
	BgError $message $options
    }
    return
}

# courier::co::status handle --
#	What co:: holds for an adopted handle, as a dict. A connection:
#	queued (messages), bytes, paused (by co::), reason (empty while
#	open), waiting (coroutines). A listener: accepted, waiting.
proc ::courier::co::status {args} {
    variable Q
    variable H
    variable Bytes
    variable Paused
    variable Reason
    variable Accepted
    variable Waiters
    if {[llength $args] != 1} {
	Usage status handle
    }
    set h [lindex $args 0]
    set full [Resolve $h]
    if {[::info exists Accepted($full)]} {
	return [dict create accepted [llength $Accepted($full)] \
		waiting [WaitCount accept:$full]]
    }
    set c [Conn $h]
    return [dict create queued [expr {[llength $Q($c)] - $H($c)}] \
	    bytes $Bytes($c) paused $Paused($c) \
	    reason [expr {[::info exists Reason($c)] ? $Reason($c) : ""}] \
	    waiting [expr {[WaitCount data:$c] + [WaitCount drain:$c]
		    + [WaitCount open:$c]}]]
}

proc ::courier::co::WaitCount {key} {
    variable Waiters
    if {[::info exists Waiters($key)]} {
	return [llength $Waiters($key)]
    }
    return 0
}
