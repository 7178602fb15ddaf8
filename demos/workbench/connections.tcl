# connections.tcl --
#
#	The Workbench's model of connections (no Tk): client connections,
#	listeners and the clients they accepted, each an "item" with an id
#	(i1, i2, ...), a state, counters and a ring of recent traffic rows.
#
#	Traffic arrives in batches (-batch 1: one callback per read) and
#	goes to the item's ring (traffic.tcl).

namespace eval ::workbench {
    variable item		;# Array "$id,field": every item's fields.
    array set item {}
    variable ids {}		;# Item ids, in creation order.
    variable nextId 0
    variable byHandle		;# Array: courier handle -> item id.
    array set byHandle {}
    variable observers {}	;# Command prefixes told of changes.
    variable keepClosedClients 20 ;# Closed accepted clients kept per listener.

    # Defaults of the options an item remembers (and a workspace saves);
    # the TLS ones are described in tls.tcl (a listener's verify
    # defaults to 0: it does not ask clients for certificates).
    variable optionDefaults {
	framing line encoding utf-8 translation auto lengthbytes 4
	maxmessage 16777216 family any tls 0 cafile {} certfile {}
	keyfile {} servername {} alpn {} verify 1
    }
}

# workbench::observe cmd --
#	Registers a command prefix called as {*}cmd event id for the events
#	"added", "removed", "state" (state or counters changed) and "rows"
#	(new traffic in the item's ring).

proc ::workbench::observe {cmd} {
    variable observers
    lappend observers $cmd
}

proc ::workbench::Notify {event id} {
    variable observers
    foreach cmd $observers {
	{*}$cmd $event $id
    }
}

# workbench::CheckOptions opts ?kind? --
#	Validates an item's option dict (from a dialog, the command line or
#	a workspace file) and returns it completed with defaults (those of
#	a listener when kind is "listener"). Errors name the option and
#	what was expected.

proc ::workbench::CheckOptions {opts {kind client}} {
    variable optionDefaults
    if {[catch {dict size $opts}] } {
	Fail VALUE options "expected a dict of options, got \"$opts\""
    }
    set result [dict create {*}$optionDefaults]
    if {$kind eq "listener"} {
	dict set result verify 0
    }
    dict for {key value} $opts {
	switch -- $key {
	    framing { Enum framing $value {raw line length} }
	    translation { Enum translation $value {auto lf crlf cr} }
	    family { Enum family $value {any inet inet6} }
	    lengthbytes { Enum lengthbytes $value {1 2 4 8} }
	    encoding {
		if {$value ni [concat binary [encoding names]]} {
		    Fail VALUE encoding "unknown encoding \"$value\""
		}
	    }
	    maxmessage {
		if {![string is entier -strict $value] || $value < 1
			|| $value > 2147483583} {
		    Fail VALUE maxmessage "expected a number of bytes from 1\
			    to 2147483583, got \"$value\""
		}
	    }
	    tls - verify - cafile - certfile - keyfile - servername - alpn {
		set value [CheckTlsOption $key $value]
	    }
	    default {
		Fail OPTION $key "unknown option \"$key\": must be alpn,\
			cafile, certfile, encoding, family, framing,\
			keyfile, lengthbytes, maxmessage, servername, tls,\
			translation or verify"
	    }
	}
	dict set result $key $value
    }
    if {$kind eq "listener" && [dict get $result tls]
	    && [dict get $result certfile] eq ""} {
	Fail VALUE certfile "a TLS listener needs a certificate file"
    }
    return $result
}

proc ::workbench::Enum {name value allowed} {
    if {$value ni $allowed} {
	Fail VALUE $name "bad $name \"$value\": must be [join $allowed {, }]"
    }
}

# workbench::Fail kind detail message --
#	Raises an error with -errorcode {WORKBENCH kind detail}.

proc ::workbench::Fail {kind detail message} {
    return -code error -level 2 -errorcode [list WORKBENCH $kind $detail] \
	    $message
}

proc ::workbench::CheckPort {port {allowZero 0}} {
    if {![string is entier -strict $port] || $port < ($allowZero ? 0 : 1)
	    || $port > 65535} {
	Fail VALUE port "bad port \"$port\": expected an integer from\
		[expr {$allowZero ? 0 : 1}] to 65535"
    }
}

# workbench::endpoint host port --
#	host:port, or [host]:port for an IPv6 address.

proc ::workbench::endpoint {host port} {
    if {[string first : $host] >= 0} {
	return "\[$host\]:$port"
    }
    return $host:$port
}

# workbench::NewItem kind fields --
#	Creates an item and returns its id.

proc ::workbench::NewItem {kind fields} {
    variable item
    variable ids
    variable nextId
    set id i[incr nextId]
    foreach {key value} [list kind $kind parent {} handle {} host {} \
	    port 0 options {} state closed reason {} label {} \
	    msgsIn 0 bytesIn 0 msgsOut 0 bytesOut 0 seq 0 ring {} \
	    kept 0 keptBytes 0 rowsOut 0 echo 0 children {} tlsInfo {} \
	    created [clock seconds] \
	    {*}$fields] {
	set item($id,$key) $value
    }
    lappend ids $id
    Notify added $id
    return $id
}

# workbench::items ?kind? --
#	Item ids, in creation order, maybe only those of one kind.

proc ::workbench::items {{kind {}}} {
    variable ids
    variable item
    if {$kind eq ""} {
	return $ids
    }
    return [lmap id $ids {
	if {$item($id,kind) ne $kind} continue
	set id
    }]
}

# workbench::itemGet id field / workbench::itemExists id --
#	An item's field; whether an item exists. The model's commands on
#	items are named item* so that none hides a Tcl command (close,
#	send, ...) from the code of the views in this namespace.

proc ::workbench::itemGet {id field} {
    variable item
    if {![info exists item($id,kind)]} {
	Fail HANDLE $id "no item \"$id\""
    }
    return $item($id,$field)
}

proc ::workbench::itemExists {id} {
    variable item
    return [info exists item($id,kind)]
}

# workbench::connect host port ?opts? --
#	Opens a client connection; returns its item id at once. The state
#	goes connecting -> open -> closed (or error).

proc ::workbench::connect {host port {opts {}}} {
    CheckPort $port
    if {$host eq ""} {
	Fail VALUE host "the host is empty"
    }
    set opts [CheckOptions $opts]
    set id [NewItem client [list host $host port $port options $opts \
	    label [endpoint $host $port]]]
    # An error Courier raises at once (a TLS file it cannot read) leaves
    # no item behind.
    if {[catch {Open $id} msg opts]} {
	remove $id
	return -options $opts $msg
    }
    return $id
}

# workbench::reopen id --
#	Opens a closed client connection or listener again, with the same
#	settings (and, for a listener, the same echo flag).

proc ::workbench::reopen {id} {
    variable item
    if {$item($id,state) ni {closed error}} {
	return
    }
    switch -- $item($id,kind) {
	client   { Open $id }
	listener { OpenListener $id }
	udp      { OpenUdp $id }
	default  { Fail VALUE id "an accepted connection cannot be reopened" }
    }
}

proc ::workbench::Open {id} {
    variable item
    variable byHandle
    set o $item($id,options)
    set handle [courier::connect $item($id,host) $item($id,port) \
	    -family [dict get $o family] {*}[CourierOptions $o] \
	    {*}[tlsOptions $o client] -timeout 10000 \
	    -onconnect [list ::workbench::OnConnect $id] \
	    -ondata [list ::workbench::OnData $id] \
	    -onerror [list ::workbench::OnError $id] \
	    -onclose [list ::workbench::OnClose $id]]
    set byHandle($handle) $id
    set item($id,handle) $handle
    set item($id,reason) {}
    set item($id,tlsInfo) {}
    # A new socket: its counters start again.
    set item($id,rowsOut) 0
    SetState $id connecting
    Event $id "connecting to $item($id,host) port $item($id,port)[expr {
	    [TlsOn $o] ? " (TLS)" : ""}]"
}

proc ::workbench::CourierOptions {o} {
    set result [list -batch 1 -framing [dict get $o framing] \
	    -maxmessage [dict get $o maxmessage] \
	    -lengthbytes [dict get $o lengthbytes]]
    if {[dict get $o framing] eq "line"} {
	lappend result -encoding [dict get $o encoding] \
		-translation [dict get $o translation]
    }
    return $result
}

# workbench::listen port ?host? ?opts? ?echo? --
#	Opens a listener (port 0 picks a free one); returns its item id.
#	An error to bind (port in use) is raised here, and no item stays.

proc ::workbench::listen {port {host 127.0.0.1} {opts {}} {echo 0}} {
    CheckPort $port 1
    set opts [CheckOptions $opts listener]
    if {![string is boolean -strict $echo]} {
	Fail VALUE echo "expected a boolean, got \"$echo\""
    }
    set handle [ListenHandle {} $port $host $opts]
    set id [NewItem listener [list host $host port [$handle port] \
	    options $opts echo [string is true $echo] \
	    label [endpoint $host [$handle port]]]]
    AdoptListener $id $handle
    return $id
}

# workbench::findItem kind host port --
#	The first item of that kind for host and port, or "".

proc ::workbench::findItem {kind host port} {
    variable item
    foreach id [items $kind] {
	if {$item($id,host) eq $host && $item($id,port) == $port} {
	    return $id
	}
    }
    return {}
}

# workbench::openEndpoint kind host port ?opts? ?echo? --
#	For the command line: a listener (kind listener) or a client
#	connection (client) to host and port, reusing an item of the same
#	kind, host and port (restored from the workspace) instead of adding
#	a second: it takes the options (and echo) given and is reopened if
#	closed. Returns the item id; errors as listen and connect.

proc ::workbench::openEndpoint {kind host port {opts {}} {echo 0}} {
    variable item
    set id [expr {$port == 0 ? "" : [findItem $kind $host $port]}]
    if {$id eq ""} {
	if {$kind eq "listener"} {
	    return [listen $port $host $opts $echo]
	}
	return [connect $host $port $opts]
    }
    set opts [CheckOptions $opts $kind]
    if {$item($id,state) in {closed error}} {
	set item($id,options) $opts
    }
    if {$kind eq "listener"} {
	setEcho $id $echo
    }
    reopen $id
    return $id
}

proc ::workbench::OpenListener {id} {
    variable item
    AdoptListener $id [ListenHandle $id $item($id,port) $item($id,host) \
	    $item($id,options)]
}

proc ::workbench::ListenHandle {id port host opts} {
    return [courier::listen $port -host $host {*}[CourierOptions $opts] \
	    {*}[tlsOptions $opts listener] \
	    -onaccept [list ::workbench::OnAccept]]
}

proc ::workbench::AdoptListener {id handle} {
    variable item
    variable byHandle
    set byHandle($handle) $id
    set item($id,handle) $handle
    set item($id,reason) {}
    SetState $id listening
    Event $id "listening on $item($id,host) port $item($id,port)"
}

# workbench::pause id / workbench::resume id --
#	Stop and restart reading a connection's socket (TCP then holds the
#	peer back).

proc ::workbench::pause {id} {
    variable item
    if {$item($id,state) eq "open" && $item($id,kind) ne "listener"} {
	$item($id,handle) pause
	SetState $id paused
	Event $id "paused: not reading"
    }
}

proc ::workbench::resume {id} {
    variable item
    if {$item($id,state) eq "paused"} {
	$item($id,handle) resume
	SetState $id open
	Event $id "resumed"
    }
}

# workbench::setEcho id bool --
#	A listener with echo on sends every message its clients send back
#	to the sender.

proc ::workbench::setEcho {id on} {
    variable item
    set item($id,echo) [string is true -strict $on]
    Notify state $id
}

# workbench::itemClose id --
#	Closes an item's socket (a listener: stops listening; its clients
#	stay open). The item stays, closed, until workbench::remove.

proc ::workbench::itemClose {id} {
    variable item
    if {$item($id,handle) eq ""} {
	return
    }
    TakeCounters $id
    ForgetHandle $id
    SetState $id closed "closed here"
    Event $id "closed here"
}

# workbench::remove id --
#	Closes and forgets an item (a listener: with its clients).

proc ::workbench::remove {id} {
    variable item
    variable ids
    if {![info exists item($id,kind)]} {
	return
    }
    foreach child $item($id,children) {
	remove $child
    }
    itemClose $id
    set parent $item($id,parent)
    if {$parent ne "" && [info exists item($parent,children)]} {
	set item($parent,children) [lsearch -all -inline -not -exact \
		$item($parent,children) $id]
    }
    set ids [lsearch -all -inline -not -exact $ids $id]
    array unset item $id,*
    Notify removed $id
}

proc ::workbench::ForgetHandle {id} {
    variable item
    variable byHandle
    set handle $item($id,handle)
    set item($id,handle) {}
    unset -nocomplain byHandle($handle)
    catch {$handle close}
}

# workbench::TakeCounters id --
#	Copies the handle's counters (as Tcl saw them) into the item, so
#	that they survive the handle.

proc ::workbench::TakeCounters {id} {
    variable item
    if {$item($id,handle) eq "" || $item($id,kind) eq "listener"} {
	return
    }
    if {$item($id,kind) eq "udp"} {
	if {![catch {$item($id,handle) info} info]} {
	    set item($id,msgsIn) [dict get $info datagramsIn]
	    set item($id,bytesIn) [dict get $info bytesIn]
	    set item($id,bytesOut) [dict get $info bytesOut]
	}
    } elseif {![catch {$item($id,handle) info} info]} {
	set item($id,msgsIn) [dict get $info messagesIn]
	set item($id,bytesIn) [dict get $info bytesIn]
	set item($id,bytesOut) [dict get $info bytesOut]
    }
    # Messages out as rows: an echo sends a whole batch in one "send",
    # which Courier counts as one message.
    set item($id,msgsOut) $item($id,rowsOut)
}

# workbench::counters id ?fresh? --
#	Current dict msgsIn bytesIn msgsOut bytesOut of an item; for a
#	listener, the sums over its clients. With fresh 0, the counters as
#	last read from the handles (no call into Courier).

proc ::workbench::counters {id {fresh 1}} {
    variable item
    if {$item($id,kind) eq "listener"} {
	set sum {msgsIn 0 bytesIn 0 msgsOut 0 bytesOut 0}
	foreach child $item($id,children) {
	    dict for {k v} [counters $child $fresh] {
		dict incr sum $k $v
	    }
	}
	return $sum
    }
    if {$fresh} {
	TakeCounters $id
    }
    return [list msgsIn $item($id,msgsIn) bytesIn $item($id,bytesIn) \
	    msgsOut $item($id,msgsOut) bytesOut $item($id,bytesOut)]
}

proc ::workbench::SetState {id state {reason {}}} {
    variable item
    set item($id,state) $state
    if {$reason ne ""} {
	set item($id,reason) $reason
    }
    Notify state $id
}

# --- Courier callbacks -------------------------------------------------

proc ::workbench::OnConnect {id handle} {
    variable item
    if {![info exists item($id,kind)]} {
	return
    }
    set peer [dict get [$handle info] peer]
    TakeTls $id $handle
    SetState $id open
    Event $id "connected to [lindex $peer 0] port [lindex $peer 1]"
    TlsEvent $id
}

proc ::workbench::OnAccept {server handle host port} {
    variable item
    variable byHandle
    if {![info exists byHandle($server)]} {
	$handle close -now
	return
    }
    set parent $byHandle($server)
    # A TLS client is "connecting" until its handshake is done.
    set tls [TlsOn $item($parent,options)]
    set id [NewItem accepted [list parent $parent host $host port $port \
	    handle $handle options $item($parent,options) \
	    state [expr {$tls ? "connecting" : "open"}] \
	    label [endpoint $host $port]]]
    set byHandle($handle) $id
    $handle configure -ondata [list ::workbench::OnData $id] \
	    -onerror [list ::workbench::OnError $id] \
	    -onclose [list ::workbench::OnClose $id]
    if {$tls} {
	$handle configure -onconnect [list ::workbench::OnHandshake $id]
    }
    lappend item($parent,children) $id
    Event $parent "accepted $host port $port ($id)"
    Event $id "accepted from $host port $port"
    PruneClosed $parent
    Notify state $parent
}

# workbench::PruneClosed listener --
#	Forgets the oldest closed clients of a listener beyond
#	keepClosedClients, so that a listener under a load test does not
#	grow its list without bound.

proc ::workbench::PruneClosed {parent} {
    variable item
    variable keepClosedClients
    set closed [lmap c $item($parent,children) {
	if {$item($c,state) in {open paused connecting}} continue
	set c
    }]
    foreach c [lrange $closed 0 end-$keepClosedClients] {
	remove $c
    }
}

# workbench::OnData id handle batch --
#	-ondata with -batch 1: the messages of one read. Constant work per
#	batch, whatever its length, except for auto-responder rules, which
#	look at each message only when some rule applies to this item.

proc ::workbench::OnData {id handle batch} {
    variable item
    if {![info exists item($id,kind)]} {
	return
    }
    set now [clock microseconds]
    Append $id $now < $batch
    set parent $item($id,parent)
    if {$parent ne "" && $item($parent,echo)} {
	SendBatch $id $batch
    }
    if {[hasRules $id]} {
	foreach message $batch {
	    foreach reply [respond $id $message] {
		itemSendBytes $id $reply
	    }
	}
    }
}

proc ::workbench::OnError {id handle message} {
    variable item
    if {[info exists item($id,kind)]} {
	set item($id,reason) $message
	Event $id "error: $message"
	set hint [tlsHint $id $message]
	if {$hint ne ""} {
	    Event $id $hint
	}
    }
}

proc ::workbench::OnClose {id handle reason} {
    variable item
    if {![info exists item($id,kind)]} {
	return
    }
    TakeCounters $id
    ForgetHandle $id
    # A peer that closes or resets has ended the connection: "closed".
    # (A load generator's Stop resets its connections: the listener's
    # clients must not turn red.) Anything else is an "error".
    switch -- [lindex $reason 0] {
	eof {
	    set state closed
	    set text "closed by the peer"
	}
	reset {
	    set state closed
	    set text "reset by the peer"
	}
	default {
	    set state error
	    set text [join [lrange $reason 0 1] ": "]
	}
    }
    SetState $id $state $text
    Event $id $text
    if {$item($id,parent) ne ""} {
	Event $item($id,parent) "$item($id,label) ($id): $text"
    }
}

# --- Sending -----------------------------------------------------------

# workbench::itemSend id data --
#	Sends data (already bytes or text, see payload.tcl) on a client or
#	accepted connection, or to every open client of a listener.
#	Returns how many connections it went to.

proc ::workbench::itemSend {id data} {
    variable item
    if {$item($id,kind) eq "udp"} {
	return [itemSendBytes $id [replyBytes $id $data]]
    }
    if {$item($id,kind) eq "listener"} {
	set n 0
	foreach child $item($id,children) {
	    if {$item($child,state) in {open paused}} {
		incr n [itemSend $child $data]
	    }
	}
	return $n
    }
    if {$item($id,handle) eq ""
	    || $item($id,state) ni {open connecting paused}} {
	Fail CLOSED $id "$item($id,label) is not open"
    }
    $item($id,handle) send $data
    Append $id [clock microseconds] > [list $data]
    return 1
}

# workbench::itemSendBytes id bytes ?peer? --
#	Sends exactly these bytes (then the framing's end of line or length
#	prefix) on a client or accepted connection, or to every open client
#	of a listener, whatever the item's encoding: on a textual connection
#	the send goes through -encoding binary for that one call (Courier
#	encodes and decodes in this thread, so nothing received in between
#	is affected). The row shows the bytes decoded as the item's text.
#	Returns how many connections it went to. On a UDP socket: one
#	datagram to peer ({host port}), or without one to its target.

proc ::workbench::itemSendBytes {id bytes {peer {}}} {
    variable item
    if {$item($id,kind) eq "udp"} {
	if {$item($id,handle) eq "" || $item($id,state) ni {open paused}} {
	    Fail CLOSED $id "$item($id,label) is not open"
	}
	return [UdpSend $id $bytes $peer]
    }
    if {$item($id,kind) eq "listener"} {
	set n 0
	foreach child $item($id,children) {
	    if {$item($child,state) in {open paused}} {
		incr n [itemSendBytes $child $bytes]
	    }
	}
	return $n
    }
    if {$item($id,handle) eq ""
	    || $item($id,state) ni {open connecting paused}} {
	Fail CLOSED $id "$item($id,label) is not open"
    }
    set o $item($id,options)
    set handle $item($id,handle)
    if {[textual $o]} {
	$handle configure -encoding binary
	try {
	    $handle send $bytes
	} finally {
	    $handle configure -encoding [dict get $o encoding]
	}
	set row [encoding convertfrom [dict get $o encoding] $bytes]
    } else {
	$handle send $bytes
	set row $bytes
    }
    Append $id [clock microseconds] > [list $row]
    return 1
}

# workbench::SendBatch id messages --
#	Echo: sends a batch back with one call per batch where the framing
#	allows it (lines joined with the end of line).

proc ::workbench::SendBatch {id messages} {
    variable item
    set handle $item($id,handle)
    if {$handle eq ""} {
	return
    }
    set o $item($id,options)
    switch -- [dict get $o framing] {
	line {
	    set eol [dict get {auto \n lf \n crlf \r\n cr \r} \
		    [dict get $o translation]]
	    $handle send [join $messages $eol]
	}
	raw { $handle send [join $messages ""] }
	default {
	    foreach m $messages {
		$handle send $m
	    }
	}
    }
    Append $id [clock microseconds] > $messages
}

# workbench::describe id --
#	A one-line description of an item for tooltips and the status bar.

proc ::workbench::describe {id} {
    variable item
    set o $item($id,options)
    if {$item($id,kind) eq "udp"} {
	set text "$item($id,label): $item($id,state)"
	if {$item($id,reason) ne ""} {
	    append text " ($item($id,reason))"
	}
	if {$item($id,target) ne ""} {
	    append text ", sends to [endpoint {*}$item($id,target)]"
	}
	foreach flag {broadcast echo} {
	    if {$item($id,$flag)} {
		append text ", $flag"
	    }
	}
	if {[llength $item($id,groups)]} {
	    append text ", groups [join $item($id,groups) {, }]"
	}
	return $text
    }
    set text "$item($id,kind) $item($id,label): $item($id,state)"
    if {$item($id,reason) ne ""} {
	append text " ($item($id,reason))"
    }
    append text [TlsDescription $id]
    append text ", framing [dict get $o framing]"
    if {[dict get $o framing] eq "line"} {
	append text ", [dict get $o encoding]"
    }
    if {$item($id,kind) eq "listener" && $item($id,echo)} {
	append text ", echo"
    }
    return $text
}
