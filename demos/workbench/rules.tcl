# rules.tcl --
#
#	Auto-responders (no Tk): rules that answer a received message.
#	A rule is a dict:
#	    scope   "any", or what the rule is for, as {kind host port}:
#		    {listener 127.0.0.1 7000} (the clients that listener
#		    accepts) or {client 127.0.0.1 7000} (a connection made
#		    here). Saved so, it means the same after a restart,
#		    whatever ids the items get. An item id (i3) is taken
#		    as that item's {kind host port}.
#	    match   exact | prefix | regex
#	    pattern what to compare the message with
#	    reply   the answer, with \n \r \t \\ \xNN and captures \0-\9
#		    (regex: the match and its groups; prefix: \0 the
#		    message, \1 what follows the prefix; exact: \0)
#	    script  optional: a Tcl script that computes the reply instead
#		    (see "Scripted replies" below)
#	    enabled 1 | 0
#	The message is never evaluated: captures are put into the reply
#	by string operations (payload.tcl's unescape).
#
#	Scripted replies. A rule's script is the body of a procedure
#	called with the arguments message, captures (as for reply),
#	peer ({host port}) and connection (a dict: id, kind, label); what
#	it returns is the reply (nothing: no reply). Global variables keep
#	their values from one message to the next (a counter: incr ::n).
#	Scripts run in a separate tclsh (scripthost.tcl), each in a safe
#	interpreter (interp create -safe: no files, sockets, exec or
#	processes) under a time limit and a command-count limit, the
#	process under a memory limit, and this side kills it if it does
#	not answer within a watchdog time. So a script from a shared
#	workspace can neither touch files nor hang or crash the window. A
#	script that exceeds a limit is disabled (enabled 0, an event on the
#	item says why); one that raises an error gives no reply (the
#	error is an event). Replies are sent when the script host answers,
#	in order.

namespace eval ::workbench {
    variable rules {}		;# List of rule dicts, in order.
    variable ruleHits 0		;# Replies sent by rules.
    variable scriptHost {}	;# The script host's process handle.
    variable scriptSeq 0	;# Requests sent to the script host.
    variable scriptPending	;# Array: seq -> {id script timer host peer}.
    array set scriptPending {}
    variable scriptDropped 0	;# Requests dropped: too many pending.
    # Limits of scripted replies (the script host gets them at start).
    # The time limit is wall-clock time, generous so that a busy machine
    # does not disable a good script; the window never waits for it.
    variable scriptLimits {ms 500 commands 1000000 replyBytes 1048576
	memoryMB 256 watchdogMs 3000 pending 1000}
    # Example scripts (the rules tab offers them): name, match, pattern,
    # script.
    variable scriptExamples {
	"Counter" prefix {} {incr ::n
return "#$::n $message"}
	"JSON-ish field echo" regex {"id"\s*:\s*("[^"]*"|\d+)} {return "{\"id\": [lindex $captures 1], \"ok\": true}"}
	"Checksum appended" prefix {} {set sum 0
foreach byte [split $message {}] {incr sum [scan $byte %c]}
return "$message*[format %02X [expr {$sum & 0xFF}]]"}
    }
    variable scriptHostFile [file join [file dirname [file normalize \
	    [info script]]] scripthost.tcl]
}

# workbench::checkRule rule --
#	Validates a rule dict; returns it completed (enabled 1 by default,
#	the scope as "any" or {kind host port}).

proc ::workbench::checkRule {rule} {
    if {[catch {dict size $rule}]} {
	Fail VALUE rule "expected a dict, got \"$rule\""
    }
    set result {scope any match exact pattern {} reply {} script {}
	enabled 1}
    dict for {key value} $rule {
	if {$key ni {scope match pattern reply script enabled}} {
	    Fail OPTION $key "unknown rule field \"$key\": must be enabled,\
		    match, pattern, reply, scope or script"
	}
	dict set result $key $value
    }
    dict set result scope [CheckScope [dict get $result scope]]
    Enum match [dict get $result match] {exact prefix regex}
    if {![string is boolean -strict [dict get $result enabled]]} {
	Fail VALUE enabled "expected a boolean, got\
		\"[dict get $result enabled]\""
    }
    if {[dict get $result match] eq "regex"
	    && [catch {regexp -about [dict get $result pattern]} msg]} {
	Fail VALUE pattern "bad regular expression\
		\"[dict get $result pattern]\": $msg"
    }
    set script [dict get $result script]
    if {[string length $script] > 65536} {
	Fail VALUE script "a rule's script is longer than 65536 characters"
    }
    if {![info complete $script]} {
	Fail VALUE script "the rule's script is not complete (a brace,\
		bracket or quote is not closed)"
    }
    # The reply must decode (a bad \x is an error now, not per message).
    unescape [dict get $result reply] {x}
    return $result
}

# workbench::CheckScope scope --
#	"any", {kind host port}, "kind host:port" (as scopeText shows it)
#	or an item id -> "any" or {kind host port}.

proc ::workbench::CheckScope {scope} {
    variable item
    if {$scope eq "any"} {
	return any
    }
    if {[info exists item($scope,kind)]} {
	return [ScopeOf $scope]
    }
    if {![catch {llength $scope} n] && $n == 2
	    && [regexp {^\[?([^\]]*?)\]?:(\d+)$} [lindex $scope 1] -> h p]} {
	set scope [list [lindex $scope 0] $h $p]
    }
    if {[catch {llength $scope} n] || $n != 3
	    || [lindex $scope 0] ni {listener client accepted udp}
	    || [lindex $scope 1] eq ""
	    || ![string is entier -strict [lindex $scope 2]]
	    || [lindex $scope 2] < 0 || [lindex $scope 2] > 65535} {
	Fail VALUE scope "bad scope \"$scope\": must be any, an item id or\
		{listener|client|udp HOST PORT}"
    }
    return [lrange $scope 0 2]
}

# workbench::ScopeOf id --
#	The scope that means item id: {kind host port}.

proc ::workbench::ScopeOf {id} {
    variable item
    return [list $item($id,kind) $item($id,host) $item($id,port)]
}

# workbench::scopeText scope --
#	A scope as a person reads it: "any", "listener 127.0.0.1:7000".

proc ::workbench::scopeText {scope} {
    if {$scope eq "any"} {
	return any
    }
    lassign $scope kind host port
    return "$kind [endpoint $host $port]"
}

# workbench::Scopes id --
#	The scopes that apply to item id: any, its own, its listener's.

proc ::workbench::Scopes {id} {
    variable item
    set scopes [list any [ScopeOf $id]]
    if {$item($id,parent) ne ""} {
	lappend scopes [ScopeOf $item($id,parent)]
    }
    return $scopes
}

# workbench::setRules list --
#	Replaces the rules (each checked first: all or nothing).

proc ::workbench::setRules {list} {
    variable rules
    set checked [lmap rule $list {checkRule $rule}]
    set rules $checked
    Notify rules {}
}

proc ::workbench::addRule {rule} {
    variable rules
    lappend rules [checkRule $rule]
    Notify rules {}
}

# workbench::hasRules id --
#	Whether any enabled rule applies to item id: OnData looks at
#	single messages only then.

proc ::workbench::hasRules {id} {
    variable rules
    if {![llength $rules]} {
	return 0
    }
    set scopes [Scopes $id]
    foreach rule $rules {
	if {[dict get $rule enabled] && [dict get $rule scope] in $scopes} {
	    return 1
	}
    }
    return 0
}

# workbench::respond id message ?peer? --
#	The replies that the first matching rule gives to message on item
#	id: a list of zero or one byte string to send. A rule with a script
#	gives none here: the script host computes the reply, which is sent
#	when it comes (ScriptReply).

proc ::workbench::respond {id message {peer {}}} {
    variable rules
    variable ruleHits
    set scopes [Scopes $id]
    foreach rule $rules {
	if {![dict get $rule enabled] || [dict get $rule scope] ni $scopes} {
	    continue
	}
	set captures [Match $rule $message]
	if {[llength $captures]} {
	    if {[dict get $rule script] ne ""} {
		ScriptRequest $id [dict get $rule script] $message $captures \
			$peer
		return {}
	    }
	    incr ruleHits
	    return [list [Join [unescape [dict get $rule reply] $captures] \
		    [TextEncoding [itemGet $id options]]]]
	}
    }
    return {}
}

# --- Scripted replies ----------------------------------------------------

# workbench::ScriptRequest id script message captures --
#	Asks the script host (started if need be) for script's reply to
#	message on item id. A watchdog kills the host if it does not answer.

proc ::workbench::ScriptRequest {id script message captures {peer {}}} {
    variable item
    variable scriptSeq
    variable scriptPending
    variable scriptLimits
    variable scriptDropped
    if {[array size scriptPending] >= [dict get $scriptLimits pending]} {
	if {[incr scriptDropped] == 1} {
	    Event $id "script replies dropped: more than\
		    [dict get $scriptLimits pending] waiting"
	}
	return
    }
    if {[catch {ScriptHost} host]} {
	Event $id "no script reply: $host"
	return
    }
    set seq [incr scriptSeq]
    set connection [dict create id $id kind $item($id,kind) \
	    label $item($id,label)]
    # A UDP socket's peer is the datagram's sender, where the reply goes.
    if {$peer eq ""} {
	set peer [list $item($id,host) $item($id,port)]
    }
    if {[catch {$host send [encoding convertto utf-8 [list $seq $script \
	    $message $captures $peer $connection]]} msg]} {
	Event $id "no script reply: $msg"
	return
    }
    set timer [after [dict get $scriptLimits watchdogMs] \
	    [list ::workbench::ScriptOverdue $seq]]
    set scriptPending($seq) [list $id $script $timer $host $peer]
}

# workbench::ScriptHost --
#	The script host's process handle, started on first use: a tclsh
#	running scripthost.tcl under "ulimit -v" (memory) with the limits.
#	Without LD_PRELOAD: a preloaded runtime (a sanitizer's, when this
#	process runs under one) cannot start under the memory limit.

proc ::workbench::ScriptHost {} {
    variable scriptHost
    variable scriptLimits
    if {$scriptHost ne ""} {
	return $scriptHost
    }
    variable scriptHostFile
    set tclsh [ScriptTclsh]
    set kib [expr {[dict get $scriptLimits memoryMB] * 1024}]
    set scriptHost [courier::spawn [list sh -c \
	    {ulimit -c 0; ulimit -v "$1"; exec "$2" "$3" "$4" "$5" "$6"} \
	    sh $kib $tclsh $scriptHostFile [dict get $scriptLimits ms] \
	    [dict get $scriptLimits commands] \
	    [dict get $scriptLimits replyBytes]] \
	    -framing length -lengthbytes 4 -stderr discard \
	    -env {LD_PRELOAD {}} \
	    -maxmessage [expr {[dict get $scriptLimits replyBytes] * 4 + 4096}] \
	    -ondata ::workbench::ScriptReply \
	    -onexit ::workbench::ScriptHostExit]
    return $scriptHost
}

# workbench::ScriptTclsh --
#	A tclsh to run the script host: this one if it is a tclsh, else
#	tclsh8.6 or tclsh on PATH.

proc ::workbench::ScriptTclsh {} {
    set exe [info nameofexecutable]
    if {[string match -nocase tclsh* [file tail $exe]]} {
	return $exe
    }
    foreach name {tclsh8.6 tclsh} {
	set found [auto_execok $name]
	if {$found ne ""} {
	    return [lindex $found 0]
	}
    }
    Fail SCRIPT tclsh "no tclsh found on PATH to run rule scripts"
}

# workbench::ScriptReply host data --
#	The host's answer {seq status value}: status ok (value is the reply,
#	empty for none), error (value is the message) or limit (a limit
#	was exceeded: the rule is disabled).

proc ::workbench::ScriptReply {host data} {
    variable scriptPending
    variable ruleHits
    variable item
    lassign [encoding convertfrom utf-8 $data] seq status value
    if {![info exists scriptPending($seq)]} {
	return
    }
    lassign $scriptPending($seq) id script timer host peer
    after cancel $timer
    unset scriptPending($seq)
    if {![array size scriptPending]} {
	# Caught up: a later overflow is reported again.
	variable scriptDropped 0
    }
    if {![info exists item($id,kind)]} {
	return
    }
    switch -- $status {
	ok {
	    if {$value ne ""} {
		incr ruleHits
		if {$item($id,kind) eq "udp"} {
		    set to [list $peer]
		} else {
		    set to {}
		}
		if {[catch {itemSendBytes $id [replyBytes $id $value] {*}$to} msg]} {
		    Event $id "script reply not sent: $msg"
		}
	    }
	}
	limit { DisableScript $script $id $value }
	default { Event $id "rule script error: $value" }
    }
}

# workbench::ScriptOverdue seq --
#	The watchdog: the host has not answered request seq in time. It is
#	killed; ScriptHostExit disables the rule.

proc ::workbench::ScriptOverdue {seq} {
    variable scriptHost
    variable scriptPending
    if {[info exists scriptPending($seq)]} {
	lset scriptPending($seq) 2 overdue
	set host [lindex $scriptPending($seq) 3]
	# The next request starts a new host at once.
	if {$host eq $scriptHost} {
	    set scriptHost {}
	}
	catch {$host kill KILL}
    }
}

# workbench::ScriptHostExit host code signal --
#	The host exited (killed by the watchdog, or out of memory): the
#	request it was on disables its rule; its others get no reply.

proc ::workbench::ScriptHostExit {host code signal} {
    variable scriptHost
    variable scriptPending
    variable item
    if {$host eq $scriptHost} {
	set scriptHost {}
    }
    set first 1
    foreach seq [lsort -integer [array names scriptPending]] {
	lassign $scriptPending($seq) id script timer owner
	if {$owner ne $host} {
	    continue
	}
	after cancel $timer
	unset scriptPending($seq)
	if {![info exists item($id,kind)]} {
	    continue
	}
	if {$first} {
	    set why [expr {$timer eq "overdue" ? "no answer in time"
		    : $signal ne "" ? "the script host died ($signal)"
		    : "the script host exited ($code)"}]
	    DisableScript $script $id $why
	    set first 0
	} else {
	    Event $id "no script reply: the script host was restarted"
	}
    }
}

# workbench::DisableScript script id why --
#	Disables every rule with this script and says why on item id.

proc ::workbench::DisableScript {script id why} {
    variable rules
    set rules [lmap rule $rules {
	if {[dict get $rule script] eq $script} {
	    dict set rule enabled 0
	}
	set rule
    }]
    Event $id "rule script disabled: $why"
    Notify rules {}
}

# workbench::stopScripts --
#	Stops the script host (it starts again when a script is needed).

proc ::workbench::stopScripts {} {
    variable scriptHost
    variable scriptPending
    foreach seq [array names scriptPending] {
	after cancel [lindex $scriptPending($seq) 2]
    }
    array unset scriptPending
    if {$scriptHost ne ""} {
	catch {$scriptHost close -now}
	set scriptHost {}
    }
}

# workbench::Match rule message --
#	The captures of message under rule ({whole group1 ...}), or an
#	empty list when it does not match.

proc ::workbench::Match {rule message} {
    set pattern [dict get $rule pattern]
    switch -- [dict get $rule match] {
	exact {
	    if {$message eq $pattern} {
		return [list $message]
	    }
	}
	prefix {
	    if {[string equal -length [string length $pattern] $pattern \
		    $message]} {
		return [list $message \
			[string range $message [string length $pattern] end]]
	    }
	}
	regex {
	    set m [regexp -inline -- $pattern $message]
	    if {[llength $m]} {
		return $m
	    }
	}
    }
    return {}
}
