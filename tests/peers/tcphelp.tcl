# tcphelp.tcl --
#
#	Helpers shared by tcp.test and framing.test (source it after
#	helpers.tcl): Courier pairs over loopback, foreign peers (Tcl's own
#	socket in this process or in a child tclsh, socat, nc), and the
#	bookkeeping that lets every test close what it opened.
#
#	Addresses: 127.0.0.1 and ::1 only. Waiting: on events, with timeout
#	guards (courierTest::wait / waitUntil); never a bare "after N".

namespace eval ::tcpTest {
    variable dir [file dirname [file normalize [info script]]]
    variable handles {}		;# Courier handles to close at cleanup.
    variable chans {}		;# Tcl channels to close at cleanup.
    variable children {}	;# Spawned processes still running.
    variable spawnCount 0
}

# Constraints of the TCP tests (ipv6 is in helpers.tcl).
testConstraint socat [expr {[auto_execok socat] ne ""}]
# The tests use the options of netcat-openbsd (-N, -l host port).
proc ::tcpTest::ncHelp {} {
    catch {exec nc -h 2>@1} out
    return $out
}
testConstraint nc [expr {[auto_execok nc] ne ""
	&& [string match *OpenBSD* [::tcpTest::ncHelp]]}]
testConstraint cc [expr {[auto_execok cc] ne ""}]

# tcpTest::until condition ?ms? --
#	Like courierTest::waitUntil, but the condition is evaluated in the
#	caller's frame (it may use the test's local variables).
proc ::tcpTest::until {condition {ms 10000}} {
    set deadline [expr {[clock milliseconds] + $ms}]
    while {![uplevel 1 [list expr $condition]]} {
	if {[clock milliseconds] > $deadline} {
	    return 0
	}
	after 2 [list set ::tcpTest::poll 1]
	vwait ::tcpTest::poll
    }
    return 1
}

# ---------------------------------------------------------------------
# Bookkeeping.
# ---------------------------------------------------------------------

# tcpTest::track handle --
#	Remembers a Courier handle (connection or listener) for cleanup and
#	returns it.
proc ::tcpTest::track {handle} {
    variable handles
    lappend handles $handle
    return $handle
}

proc ::tcpTest::trackChan {chan} {
    variable chans
    lappend chans $chan
    return $chan
}

# tcpTest::cleanup --
#	Closes every handle and channel a test opened (already closed ones
#	are skipped), kills children still running, resets the globals the
#	callbacks write.
proc ::tcpTest::cleanup {} {
    variable handles
    variable chans
    variable children
    foreach h $handles {
	if {[llength [info commands $h]]} {
	    catch {$h close -now}
	    catch {$h close}
	}
    }
    foreach c $chans {
	catch {close $c}
    }
    foreach id $children {
	catch {kill $id}
    }
    set handles {}
    set chans {}
    foreach v {::got ::closed ::errors ::events ::accepted ::connected
	    ::drained ::bg ::peerGot ::peerEof ::peerChan ::done} {
	unset -nocomplain $v
    }
    array set ::got {}
    array set ::closed {}
    array set ::errors {}
    array set ::connected {}
    array set ::drained {}
    array set ::peerGot {}
    array set ::peerEof {}
    set ::events {}
    set ::accepted {}
    set ::bg {}
}
::tcpTest::cleanup

# ---------------------------------------------------------------------
# Callbacks that record what happens, keyed by a tag.
# ---------------------------------------------------------------------

# tcpTest::got tag --
#	What ::got(tag) holds so far ({} before anything came).
proc ::tcpTest::got {tag} {
    if {[info exists ::got($tag)]} {
	return $::got($tag)
    }
    return {}
}

# -ondata {tcpTest::ondata tag}: appends each message to ::got(tag).
proc ::tcpTest::ondata {tag c m} {
    lappend ::got($tag) $m
    lappend ::events [list $tag data]
}
# -ondata {tcpTest::onstream tag}: appends the bytes to ::got(tag).
proc ::tcpTest::onstream {tag c m} {
    append ::got($tag) $m
}
# -onclose {tcpTest::onclose tag}
proc ::tcpTest::onclose {tag c reason} {
    lappend ::events [list $tag close [lindex $reason 0]]
    set ::closed($tag) $reason
}
# -onerror {tcpTest::onerror tag}
proc ::tcpTest::onerror {tag c message} {
    lappend ::events [list $tag error]
    lappend ::errors($tag) $message
}
# -onconnect {tcpTest::onconnect tag}
proc ::tcpTest::onconnect {tag c} {
    lappend ::events [list $tag connect]
    set ::connected($tag) $c
}
# -ondata {tcpTest::echo}: sends every message back.
proc ::tcpTest::echo {c m} {
    $c send $m
}
# -onaccept {tcpTest::accept}: tracks accepted handles, records them.
proc ::tcpTest::accept {server conn host port} {
    track $conn
    lappend ::accepted $conn
}

# The -errorcode of a catch's options, {} when there was no error.
proc ::tcpTest::errorcode {opts} {
    if {[dict exists $opts -errorcode]} {
	return [dict get $opts -errorcode]
    }
    return {}
}

# tcpTest::bgerrors --
#	Routes background errors to ::bg for the current test; returns the
#	previous handler (give it back with interp bgerror {} $old).
proc ::tcpTest::bgerrors {} {
    set old [interp bgerror {}]
    interp bgerror {} [list apply {{msg opts} {
	lappend ::bg $msg
    }}]
    return $old
}

# ---------------------------------------------------------------------
# Courier pairs.
# ---------------------------------------------------------------------

# tcpTest::listen ?options? --
#	A tracked Courier listener on 127.0.0.1, port 0, whose accepted
#	connections are tracked and recorded in ::accepted.
proc ::tcpTest::listen {args} {
    track [courier::listen 0 -onaccept ::tcpTest::accept {*}$args]
}

# tcpTest::pair serverOpts clientOpts ?host? --
#	A Courier listener and a Courier client connected to it. Waits until
#	both ends are open. Returns {listener client accepted}.
proc ::tcpTest::pair {serverOpts clientOpts {host 127.0.0.1}} {
    set s [listen -host $host {*}$serverOpts]
    set n [llength $::accepted]
    set c [track [courier::connect $host [$s port] {*}$clientOpts]]
    if {![until {[llength $::accepted] > $n
	    && [dict get [[lindex $::accepted end] info] state] eq "open"
	    && [dict get [$c info] state] eq "open"} 10000]} {
	return -code error "tcpTest::pair: no connection"
    }
    return [list $s $c [lindex $::accepted end]]
}

# tcpTest::barrier ?ms? --
#	Returns 1 once Courier's I/O thread has done a full round trip that
#	started after this call: whatever was already in some socket's kernel
#	buffer has then been seen by the loop (one I/O thread, the default).
#	Uses a pair of its own, closed again before it returns.
proc ::tcpTest::barrier {{ms 5000}} {
    set ::tcpTest::barrierGot ""
    set s [courier::listen 0 -framing line -ondata ::tcpTest::echo \
	    -onclose {apply {{c r} {$c close}}}]
    set c [courier::connect 127.0.0.1 [$s port] -framing line \
	    -ondata {apply {{c m} {set ::tcpTest::barrierGot $m}}}]
    $c send ping
    set ok [until {$::tcpTest::barrierGot eq "ping"} $ms]
    $c close
    $s close
    return $ok
}

# tcpTest::stalled conn key --
#	Waits until the counter key of $conn info stops moving: equal before
#	and after two full round trips of the I/O thread (tcpTest::barrier),
#	so the socket gave nothing (or took nothing) meanwhile. 1 when it
#	stalled within 30 s.
proc ::tcpTest::stalled {conn key} {
    set deadline [expr {[clock milliseconds] + 30000}]
    while {[clock milliseconds] < $deadline} {
	set before [dict get [$conn info] $key]
	tcpTest::barrier
	tcpTest::barrier
	if {[dict get [$conn info] $key] == $before} {
	    return 1
	}
    }
    return 0
}

# tcpTest::sendToDeafPeer sendBuffer seed --
#	A Courier client of a Tcl server that does not read (its end in
#	::peerChan(peer), for the test to read from later), with -sendbuffer
#	sendBuffer and a -ondrain that appends the connection's info to
#	::drained(cli); then 32 MiB sent in 64 KiB pieces, far more than the
#	kernel buffers of both ends can hold. Returns {conn data}.
proc ::tcpTest::sendToDeafPeer {sendBuffer seed} {
    set srv [trackChan [socket -server {apply {{chan h p} {
	tcpTest::trackChan $chan
	fconfigure $chan -blocking 0 -translation binary
	set ::peerChan(peer) $chan
    }}} -myaddr 127.0.0.1 0]]
    set c [track [courier::connect 127.0.0.1 \
	    [lindex [fconfigure $srv -sockname] 2] -sendbuffer $sendBuffer \
	    -onconnect {tcpTest::onconnect cli} -ondrain {apply {{c} {
		lappend ::drained(cli) [$c info]
	    }}}]]
    waitFor ::connected(cli)
    waitFor ::peerChan(peer)
    set data [pattern [expr {32 << 20}] $seed]
    for {set off 0} {$off < [string length $data]} {incr off 65536} {
	$c send [string range $data $off [expr {$off + 65535}]]
    }
    return [list $c $data]
}

# tcpTest::waitFor varName ?ms? --
#	courierTest::wait, but returns 1 at once when the variable is
#	already set (callbacks may have run before the test waits).
proc ::tcpTest::waitFor {varName {ms 10000}} {
    if {[info exists $varName]} {
	return 1
    }
    courierTest::wait $varName $ms
}

# tcpTest::loadScript --
#	A script that makes another interpreter (a child, or one in another
#	thread) know how to load courier the way this one did, so that its
#	package require needs no search of auto_path. (A search opens and
#	closes directories; libuv closes sockets with a raw system call that
#	ThreadSanitizer does not see, so a directory that reuses a socket's
#	descriptor number looks to it like a race.)
proc ::tcpTest::loadScript {} {
    set v [package present courier]
    list package ifneeded courier $v [package ifneeded courier $v]
}

# ---------------------------------------------------------------------
# Ports and listening sockets.
# ---------------------------------------------------------------------

# tcpTest::freePort ?host? --
#	A port that nothing listens on right now (bound and released).
proc ::tcpTest::freePort {{host 127.0.0.1}} {
    set s [socket -server list -myaddr $host 0]
    set port [lindex [fconfigure $s -sockname] 2]
    ::close $s
    return $port
}

# tcpTest::listening port --
#	Is some socket of this host in LISTEN state on port (IPv4 or IPv6)?
proc ::tcpTest::listening {port} {
    set hex [format %04X $port]
    foreach file {/proc/net/tcp /proc/net/tcp6} {
	if {[catch {open $file} f]} continue
	set lines [split [read $f] \n]
	::close $f
	foreach line [lrange $lines 1 end] {
	    set fields [regexp -all -inline {\S+} $line]
	    if {[llength $fields] < 4} continue
	    if {[lindex [split [lindex $fields 1] :] end] eq $hex
		    && [lindex $fields 3] eq "0A"} {
		return 1
	    }
	}
    }
    return 0
}

# ---------------------------------------------------------------------
# Byte helpers.
# ---------------------------------------------------------------------

# tcpTest::big n --
#	A message or stream size for this run: n, but at most 1 MiB under
#	valgrind, where moving megabytes takes many seconds.
proc ::tcpTest::big {n} {
    if {$::courierTest::sanitizer eq "valgrind" && $n > (1 << 20)} {
	return [expr {1 << 20}]
    }
    return $n
}

# Every byte value once, 0 to 255.
proc ::tcpTest::allBytes {} {
    set b ""
    for {set i 0} {$i < 256} {incr i} {
	append b [binary format c $i]
    }
    return $b
}

# tcpTest::pattern n ?seed? --
#	n bytes, every value present, varying with the position (so that a
#	lost, repeated or reordered block changes the checksum).
proc ::tcpTest::pattern {n {seed 0}} {
    set block [allBytes]
    set out ""
    set i $seed
    while {[string length $out] < $n} {
	append out [binary format I [expr {$i & 0xffffffff}]] $block
	incr i
    }
    return [string range $out 0 $n-1]
}

# Hex of bytes, for readable comparisons.
proc ::tcpTest::hex {bytes} {
    binary scan $bytes H* h
    return $h
}

# Big-endian length prefix of width w.
proc ::tcpTest::prefix {w n} {
    switch -- $w {
	1 { binary format c $n }
	2 { binary format S $n }
	4 { binary format I $n }
	8 { binary format W $n }
    }
}

# ---------------------------------------------------------------------
# Tcl's own sockets in this process (event driven: a blocking read here
# would stop the event loop Courier delivers through).
# ---------------------------------------------------------------------

# tcpTest::tclServer tag ?host? --
#	A Tcl server socket whose connections' bytes collect in
#	::peerGot(tag) and whose EOF sets ::peerEof(tag) (to "eof", or to
#	the error message). The accepted channel is ::peerChan(tag).
#	Returns the port.
proc ::tcpTest::tclServer {tag {host 127.0.0.1}} {
    set s [trackChan [socket -server [list ::tcpTest::TclAccept $tag] \
	    -myaddr $host 0]]
    return [lindex [fconfigure $s -sockname] 2]
}
proc ::tcpTest::TclAccept {tag chan host port} {
    trackChan $chan
    set ::peerChan($tag) $chan
    set ::peerGot($tag) ""
    fconfigure $chan -blocking 0 -translation binary -buffering none
    fileevent $chan readable [list ::tcpTest::TclReadable $tag $chan]
}
proc ::tcpTest::TclReadable {tag chan} {
    if {[catch {read $chan} data]} {
	fileevent $chan readable {}
	set ::peerEof($tag) $data
	return
    }
    append ::peerGot($tag) $data
    if {[eof $chan]} {
	fileevent $chan readable {}
	set ::peerEof($tag) eof
    }
}

# tcpTest::tclClient tag port ?host? --
#	A Tcl client socket, non-blocking, binary, unbuffered; what it
#	reads goes to ::peerGot(tag) as above. Returns the channel.
proc ::tcpTest::tclClient {tag port {host 127.0.0.1}} {
    set chan [trackChan [socket $host $port]]
    set ::peerGot($tag) ""
    fconfigure $chan -blocking 0 -translation binary -buffering none
    fileevent $chan readable [list ::tcpTest::TclReadable $tag $chan]
    return $chan
}

# tcpTest::lockstep chan conn bytes ?ms? --
#	Writes bytes to chan one at a time; after each, waits until the
#	Courier connection conn has read it (bytesRead), so that every byte
#	arrives in a read of its own: the stream is split at every byte
#	boundary. Returns 1, or 0 on timeout.
proc ::tcpTest::lockstep {chan conn bytes {ms 10000}} {
    set base [dict get [$conn info] bytesRead]
    set n 0
    foreach byte [split $bytes ""] {
	puts -nonewline $chan $byte
	flush $chan
	incr n
	set deadline [expr {[clock milliseconds] + $ms}]
	while {[dict get [$conn info] bytesRead] < $base + $n} {
	    if {[clock milliseconds] > $deadline} {
		return 0
	    }
	    after 1 [list set ::tcpTest::tick 1]
	    vwait ::tcpTest::tick
	}
    }
    return 1
}

# ---------------------------------------------------------------------
# Child processes that keep running while the test goes on.
# ---------------------------------------------------------------------

# tcpTest::spawn script ?arg ...? --
#	Starts a child tclsh (as courierTest::runChild does: courier on its
#	auto_path, COURIER_WRAP honoured) running script with args. Its
#	stdout collects in ::tcpTest::out(id), line by line available to
#	tcpTest::expectLine. Returns the id.
proc ::tcpTest::spawn {script args} {
    variable spawnCount
    set id [incr spawnCount]
    set file [makeFile $script spawn$id.tcl]
    variable scriptOf
    set scriptOf($id) $file
    return [spawnCommand $id [list {*}[courierTest::tclsh] $file {*}$args]]
}

# tcpTest::spawnExec cmd ?arg ...? --
#	Starts any program (socat, nc, sh) the same way.
proc ::tcpTest::spawnExec {args} {
    variable spawnCount
    set id [incr spawnCount]
    return [spawnCommand $id $args]
}

# tcpTest::spawnCommand id cmd ?mode? --
#	Starts cmd for spawn and spawnExec; mode r+ gives the child's stdin
#	as a pipe of ours ($tcpTest::chanOf($id)) instead of this process's.
proc ::tcpTest::spawnCommand {id cmd {mode r}} {
    variable children
    variable out
    variable end
    variable err
    set err($id) [makeFile {} spawn$id.err]
    set chan [open |[list {*}$cmd 2> $err($id)] $mode]
    fconfigure $chan -blocking 0 -translation binary
    set out($id) ""
    set end($id) ""
    variable chanOf
    set chanOf($id) $chan
    fileevent $chan readable [list ::tcpTest::SpawnReadable $id $chan]
    lappend children $id
    return $id
}
proc ::tcpTest::SpawnReadable {id chan} {
    append ::tcpTest::out($id) [read $chan]
    if {[eof $chan]} {
	fileevent $chan readable {}
	set ::tcpTest::end($id) eof
    }
}

# tcpTest::expectLine id pattern ?ms? --
#	Waits until the child has printed a line matching the regexp
#	pattern; returns the first capture group (or the line), "" on
#	timeout.
proc ::tcpTest::expectLine {id pattern {ms 10000}} {
    if {![until {[regexp -line -- $pattern $::tcpTest::out($id)]} $ms]} {
	return ""
    }
    if {[regexp -line -- $pattern $::tcpTest::out($id) line first]} {
	return $first
    }
    regexp -line -- $pattern $::tcpTest::out($id) line
    return $line
}

# tcpTest::finish id ?ms? --
#	Waits for the child to end; returns {exitcode stdout stderr} like
#	courierTest::runChild (exitcode "timeout" when it was killed).
proc ::tcpTest::finish {id {ms 30000}} {
    variable children
    variable chanOf
    variable out
    variable end
    variable err
    set chan $chanOf($id)
    set code 0
    if {$end($id) eq ""} {
	set guard [after $ms [list set ::tcpTest::end($id) timeout]]
	vwait ::tcpTest::end($id)
	after cancel $guard
    }
    if {$end($id) eq "timeout"} {
	catch {exec kill -9 {*}[pid $chan]}
	set code timeout
    }
    fconfigure $chan -blocking 1
    if {[catch {::close $chan} msg opts] && $code ne "timeout"} {
	set ec [dict get $opts -errorcode]
	switch -- [lindex $ec 0] {
	    CHILDSTATUS { set code [lindex $ec 2] }
	    CHILDKILLED { set code [list signal [lindex $ec 2]] }
	    default { set code [list error $msg] }
	}
    }
    set result [list $code $out($id) [viewFile $err($id)]]
    removeFile $err($id)
    variable scriptOf
    if {[info exists scriptOf($id)]} {
	removeFile $scriptOf($id)
	unset scriptOf($id)
    }
    set children [lsearch -all -inline -not -exact $children $id]
    unset out($id) end($id) err($id) chanOf($id)
    return $result
}

# tcpTest::kill id --
#	Ends a child that is still running (cleanup).
proc ::tcpTest::kill {id} {
    variable chanOf
    catch {exec kill -9 {*}[pid $chanOf($id)]}
    finish $id 5000
}

# tcpTest::childPreamble --
#	The start of a child script: courier, and a guard that ends a child
#	the test forgot after a minute.
proc ::tcpTest::childPreamble {} {
    return {
	package require courier
	after 60000 {puts stderr "child: still running after 60 s"; exit 9}
    }
}
