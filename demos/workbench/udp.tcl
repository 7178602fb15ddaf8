# udp.tcl --
#
#	The Workbench's UDP sockets (no Tk): an item of kind "udp" is a
#	courier::udp socket bound to an address and port (state "open", or
#	"paused", "closed", "error"). Datagrams arrive in bursts (-batch 1:
#	{data host port} triples) and go to the item's ring as received rows
#	("<"), the bytes as they came; the source is an event row ("*" "from
#	HOST:PORT") whenever it differs from the previous datagram's, and the
#	destination of sent rows likewise ("to HOST:PORT"). Sends go to the
#	item's target (udpTarget) or to an explicit peer (auto-responder
#	replies and echo go back to the sender). Multicast groups joined and
#	the broadcast flag are kept on the item, so that a reopen or a
#	workspace restores them.

namespace eval ::workbench {
    # Datagrams received but not yet handled, per socket, at most: enough
    # to ride out a second or so of this thread being busy (or waiting for
    # a CPU) at tens of thousands of datagrams a second; beyond it the
    # kernel drops, and "kernel drops" in the socket's info counts them.
    variable udpMaxPending 33554432
}

# workbench::udpBind port ?host? ?opts? --
#	Binds a UDP socket (port 0: any free one); returns its item id. An
#	error to bind is raised here and no item stays. opts is a dict of
#	broadcast (boolean), echo (boolean: every datagram goes back to its
#	sender), reuseaddr (boolean), groups (multicast groups to join, each
#	"group ?interface?") and target (host port: where the send panel
#	sends).

proc ::workbench::udpBind {port {host 127.0.0.1} {opts {}}} {
    CheckPort $port 1
    set u [CheckUdpOptions $opts]
    set id [NewItem udp [list host $host port $port \
	    options [CheckOptions {framing raw encoding binary}] \
	    label "UDP [endpoint $host $port]" {*}$u \
	    lastFrom {} lastTo {}]]
    if {[catch {OpenUdp $id} msg opt]} {
	remove $id
	return -options $opt $msg
    }
    return $id
}

# workbench::CheckUdpOptions opts --
#	Validates a UDP socket's options (dialog, workspace); returns them
#	as item fields with defaults.

proc ::workbench::CheckUdpOptions {opts} {
    if {[catch {dict size $opts}]} {
	Fail VALUE options "expected a dict of options, got \"$opts\""
    }
    set result {broadcast 0 echo 0 reuseaddr 0 groups {} target {}}
    dict for {key value} $opts {
	switch -- $key {
	    broadcast - echo - reuseaddr {
		if {![string is boolean -strict $value]} {
		    Fail VALUE $key "bad $key \"$value\": expected a boolean"
		}
		set value [string is true $value]
	    }
	    groups {
		if {[catch {llength $value}]} {
		    Fail VALUE groups "expected a list of groups, got \"$value\""
		}
		foreach g $value {
		    if {[catch {llength $g} n] || $n < 1 || $n > 2} {
			Fail VALUE groups "bad group \"$g\": expected\
				\"group ?interface?\""
		    }
		}
	    }
	    target {
		if {$value ne ""} {
		    if {[catch {llength $value} n] || $n != 2
			    || [lindex $value 0] eq ""} {
			Fail VALUE target "bad target \"$value\": expected\
				{host port}"
		    }
		    CheckPort [lindex $value 1]
		}
	    }
	    default {
		Fail OPTION $key "unknown option \"$key\": must be broadcast,\
			echo, groups, reuseaddr or target"
	    }
	}
	dict set result $key $value
    }
    return $result
}

# workbench::OpenUdp id --
#	Binds item id's socket with its settings and joins its groups. A
#	group that cannot be joined is an event, not a failure.

proc ::workbench::OpenUdp {id} {
    variable item
    variable udpMaxPending
    variable byHandle
    set handle [courier::udp -port $item($id,port) -host $item($id,host) \
	    -reuseaddr $item($id,reuseaddr) -broadcast $item($id,broadcast) \
	    -batch 1 -recvbuffer 4194304 -maxpending $udpMaxPending \
	    -ondata [list ::workbench::OnUdpData $id] \
	    -onerror [list ::workbench::OnUdpError $id]]
    set byHandle($handle) $id
    set item($id,handle) $handle
    set item($id,reason) {}
    set item($id,rowsOut) 0
    set item($id,lastFrom) {}
    set item($id,lastTo) {}
    if {$item($id,port) == 0} {
	set item($id,port) [$handle port]
	set item($id,label) "UDP [endpoint $item($id,host) $item($id,port)]"
    }
    SetState $id open
    Event $id "bound to $item($id,host) port [$handle port]"
    foreach g $item($id,groups) {
	if {[catch {$handle join {*}$g} msg]} {
	    Event $id "cannot join $g: $msg"
	} else {
	    Event $id "joined multicast group $g"
	}
    }
}

# workbench::udpTarget id ?host port? --
#	Where sends without a peer go on UDP item id: sets it, or returns
#	it ({host port}, empty when none is set).

proc ::workbench::udpTarget {id args} {
    variable item
    UdpItem $id
    if {[llength $args] == 0} {
	return $item($id,target)
    }
    if {[llength $args] != 2} {
	Fail VALUE target "expected host and port"
    }
    lassign $args host port
    set host [string trim $host " \[\]"]
    if {$host eq ""} {
	Fail VALUE host "the host is empty"
    }
    CheckPort $port
    set item($id,target) [list $host $port]
    return $item($id,target)
}

proc ::workbench::UdpItem {id} {
    variable item
    if {![info exists item($id,kind)] || $item($id,kind) ne "udp"} {
	Fail VALUE id "\"$id\" is not a UDP socket"
    }
}

# workbench::udpJoin id group ?interface? / udpLeave id group ?interface? --
#	Joins or leaves a multicast group on UDP item id (and remembers it
#	for a reopen and the workspace). Errors are the kernel's, raised.

proc ::workbench::udpJoin {id group {iface {}}} {
    variable item
    UdpItem $id
    set g [expr {$iface eq "" ? [list $group] : [list $group $iface]}]
    if {$item($id,handle) ne ""} {
	$item($id,handle) join {*}$g
    }
    if {$g ni $item($id,groups)} {
	lappend item($id,groups) $g
    }
    Event $id "joined multicast group $g"
    Notify state $id
}

proc ::workbench::udpLeave {id group {iface {}}} {
    variable item
    UdpItem $id
    set g [expr {$iface eq "" ? [list $group] : [list $group $iface]}]
    if {$item($id,handle) ne ""} {
	$item($id,handle) leave {*}$g
    }
    set item($id,groups) [lsearch -all -inline -not -exact \
	    $item($id,groups) $g]
    Event $id "left multicast group $g"
    Notify state $id
}

# workbench::udpBroadcast id bool --
#	Allows (or not) sending to broadcast addresses from UDP item id.

proc ::workbench::udpBroadcast {id on} {
    variable item
    UdpItem $id
    if {![string is boolean -strict $on]} {
	Fail VALUE broadcast "expected a boolean, got \"$on\""
    }
    set on [string is true $on]
    if {$item($id,handle) ne ""} {
	$item($id,handle) configure -broadcast $on
    }
    set item($id,broadcast) $on
    Event $id "broadcast [expr {$on ? "allowed" : "not allowed"}]"
    Notify state $id
}

# workbench::OnUdpData id handle batch --
#	A burst of datagrams ({data host port} each). Cut into runs of one
#	source, each run one ring entry after a "from" row when the source
#	changed. Echo and auto-responders answer each datagram's sender.

proc ::workbench::OnUdpData {id handle batch} {
    variable item
    if {![info exists item($id,kind)]} {
	return
    }
    set now [clock microseconds]
    set run {}
    set from $item($id,lastFrom)
    foreach d $batch {
	lassign $d data host port
	if {$host ne [lindex $from 0] || $port ne [lindex $from 1]} {
	    if {[llength $run]} {
		Append $id $now < $run
		set run {}
	    }
	    set from [list $host $port]
	    Event $id "from [endpoint $host $port]"
	}
	lappend run $data
    }
    set item($id,lastFrom) $from
    if {[llength $run]} {
	Append $id $now < $run
    }
    if {$item($id,echo)} {
	foreach d $batch {
	    lassign $d data host port
	    catch {itemSendBytes $id $data [list $host $port]}
	}
    }
    if {[hasRules $id]} {
	foreach d $batch {
	    lassign $d data host port
	    foreach reply [respond $id $data [list $host $port]] {
		catch {itemSendBytes $id $reply [list $host $port]}
	    }
	}
    }
}

proc ::workbench::OnUdpError {id handle message code} {
    variable item
    if {[info exists item($id,kind)]} {
	set item($id,reason) $message
	Event $id "error: $message"
    }
}

# workbench::UdpSend id bytes peer --
#	itemSendBytes for a UDP item: one datagram to peer ({host port}), or
#	to the item's target when peer is empty.

proc ::workbench::UdpSend {id bytes peer} {
    variable item
    if {$peer eq ""} {
	set peer $item($id,target)
    }
    if {$peer eq ""} {
	Fail VALUE target "$item($id,label): no destination (set host:port\
		to send to)"
    }
    lassign $peer host port
    $item($id,handle) send $host $port $bytes
    if {$peer ne $item($id,lastTo)} {
	set item($id,lastTo) $peer
	Event $id "to [endpoint $host $port]"
    }
    Append $id [clock microseconds] > [list $bytes]
    return 1
}

# workbench::UdpEndpoints list --
#	Checks the workspace's "udp" list: each {host port ?broadcast? ?echo?
#	?reuseaddr? ?groups? ?target?}.

proc ::workbench::UdpEndpoints {list} {
    return [lmap d [CheckList udp $list] {
	CheckFields endpoint $d {host port}
	CheckPort [dict get $d port] 1
	dict merge [dict create host [dict get $d host] \
		port [dict get $d port]] \
		[CheckUdpOptions [dict remove $d host port]]
    }]
}

# workbench::RestoreUdp d --
#	A UDP socket from the workspace: bound again at once (its port is
#	what the peers know); if that fails, the item stays with the error.

proc ::workbench::RestoreUdp {d} {
    set host [dict get $d host]
    set port [dict get $d port]
    set id [NewItem udp [list host $host port $port \
	    options [CheckOptions {framing raw encoding binary}] \
	    label "UDP [endpoint $host $port]" \
	    {*}[dict remove $d host port] lastFrom {} lastTo {} \
	    reason "from the workspace"]]
    if {[catch {OpenUdp $id} msg]} {
	SetState $id error $msg
	Event $id "cannot bind: $msg"
    }
    return $id
}
