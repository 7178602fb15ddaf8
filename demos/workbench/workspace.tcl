# workspace.tcl --
#
#	Saving and restoring the workspace (no Tk): client connections,
#	listeners, snippets, auto-responder rules, the send history and the
#	window geometry, in a plain file that holds one Tcl dict:
#
#	    format courier-workbench-1
#	    geometry 1100x720+40+40
#	    connections {{host 127.0.0.1 port 7000 options {framing line ...}}}
#	    listeners {{host 127.0.0.1 port 7000 options {...} echo 1}}
#	    udp {{host 127.0.0.1 port 5000 broadcast 0 echo 0 reuseaddr 0
#		groups {{239.1.2.3 127.0.0.1}} target {127.0.0.1 5001}}}
#	    snippets {{name hello mode text text {hello\n}}}
#	    rules {{scope {listener 127.0.0.1 7000} match prefix pattern PING
#		reply {PONG\1} script {} enabled 1}}
#	    history {{hello} {GET / HTTP/1.0\r\n\r\n}}
#
#	The file is read as data: read, parsed as a dict, every field
#	checked. It is never sourced or evaluated.

namespace eval ::workbench {
    variable snippets {}	;# List of {name mode text} dicts.
    variable history {}		;# Sent texts, newest first.
    variable historyMax 50
    variable workspaceFormat courier-workbench-1
    variable workspaceMaxBytes 4194304
    variable settings		;# Array: preferences a workspace keeps.
    array set settings {autolog 0 logMaxMB 64 window 5000}
}

# workbench::CheckSettings dict --
#	Validates preferences: autolog (boolean: log every session to a
#	file under the config directory), logMaxMB (1-4096, the size at
#	which the log rotates), window (rows kept in the traffic view,
#	100-100000).

proc ::workbench::CheckSettings {d} {
    if {[catch {dict size $d}]} {
	Fail VALUE settings "expected a dict, got \"$d\""
    }
    dict for {key value} $d {
	switch -- $key {
	    autolog {
		if {![string is boolean -strict $value]} {
		    Fail VALUE autolog "expected a boolean, got \"$value\""
		}
	    }
	    logMaxMB - window {
		set range [dict get {logMaxMB {1 4096} window {100 100000}} $key]
		if {![string is entier -strict $value]
			|| $value < [lindex $range 0]
			|| $value > [lindex $range 1]} {
		    Fail VALUE $key "bad $key \"$value\": expected an integer\
			    from [join $range { to }]"
		}
	    }
	    default {
		Fail OPTION $key "unknown setting \"$key\": must be autolog,\
			logMaxMB or window"
	    }
	}
    }
    return $d
}

# workbench::configDir --
#	$XDG_CONFIG_HOME/courier-workbench, or ~/.config/courier-workbench.

proc ::workbench::configDir {} {
    global env
    if {[info exists env(XDG_CONFIG_HOME)] && $env(XDG_CONFIG_HOME) ne ""} {
	set base $env(XDG_CONFIG_HOME)
    } else {
	set base [file join [file normalize ~] .config]
    }
    return [file join $base courier-workbench]
}

proc ::workbench::defaultWorkspace {} {
    return [file join [configDir] workspace.tcl]
}

# workbench::rememberSent text --
#	Adds a sent text to the history (newest first, no duplicates).

proc ::workbench::rememberSent {text} {
    variable history
    variable historyMax
    set history [lrange [linsert [lsearch -all -inline -not -exact \
	    $history $text] 0 $text] 0 [expr {$historyMax - 1}]]
}

# workbench::setSnippet name mode text / removeSnippet name --

proc ::workbench::setSnippet {name mode text} {
    variable snippets
    Enum mode $mode {text hex file}
    if {$name eq ""} {
	Fail VALUE name "a snippet needs a name"
    }
    removeSnippet $name
    lappend snippets [dict create name $name mode $mode text $text]
    Notify snippets {}
}

proc ::workbench::removeSnippet {name} {
    variable snippets
    set snippets [lmap s $snippets {
	if {[dict get $s name] eq $name} continue
	set s
    }]
    Notify snippets {}
}

# workbench::workspace ?geometry? --
#	The current workspace as a dict.

proc ::workbench::workspace {{geometry {}}} {
    variable workspaceFormat
    variable snippets
    variable rules
    variable history
    set connections {}
    set listeners {}
    set udp {}
    foreach id [items] {
	if {[itemGet $id kind] eq "udp"} {
	    set d [dict create host [itemGet $id host] port [itemGet $id port]]
	    foreach f {broadcast echo reuseaddr groups target} {
		dict set d $f [itemGet $id $f]
	    }
	    lappend udp $d
	    continue
	}
	set d [dict create host [itemGet $id host] port [itemGet $id port] \
		options [itemGet $id options]]
	switch -- [itemGet $id kind] {
	    client { lappend connections $d }
	    listener {
		dict set d echo [itemGet $id echo]
		lappend listeners $d
	    }
	}
    }
    variable settings
    return [dict create format $workspaceFormat geometry $geometry \
	    connections $connections listeners $listeners udp $udp \
	    snippets $snippets rules $rules history $history \
	    settings [array get settings]]
}

# workbench::saveWorkspace path ?geometry? --
#	Writes the workspace; through a temporary file and a rename, so
#	that a crash never leaves half a file.

proc ::workbench::saveWorkspace {path {geometry {}}} {
    file mkdir [file dirname $path]
    set tmp $path.tmp[pid]
    set f [open $tmp w]
    fconfigure $f -encoding utf-8 -translation lf
    puts $f "# Courier Workbench workspace: one Tcl dict, read as data."
    dict for {key value} [workspace $geometry] {
	puts $f [list $key $value]
    }
    close $f
    file rename -force $tmp $path
}

# workbench::readWorkspace path --
#	Reads and checks a workspace file; returns the checked dict.
#	Errors say what is wrong and where.

proc ::workbench::readWorkspace {path} {
    variable workspaceFormat
    variable workspaceMaxBytes
    if {[file size $path] > $workspaceMaxBytes} {
	Fail VALUE workspace "$path is larger than $workspaceMaxBytes bytes"
    }
    set f [open $path r]
    fconfigure $f -encoding utf-8
    set text [read $f]
    close $f
    # Comment lines at the top are not part of the dict (only there: a
    # line inside a value may start with "#").
    set lines [split $text \n]
    while {[llength $lines]
	    && [string match "#*" [string trimleft [lindex $lines 0]]]} {
	set lines [lrange $lines 1 end]
    }
    set data [join $lines \n]
    if {[catch {dict size $data}]} {
	Fail VALUE workspace "$path is not a Tcl dict"
    }
    if {![dict exists $data format]
	    || [dict get $data format] ne $workspaceFormat} {
	Fail VALUE format "$path: expected \"format $workspaceFormat\""
    }
    set result [dict create format $workspaceFormat geometry {} \
	    connections {} listeners {} udp {} snippets {} rules {} \
	    history {} settings {}]
    dict for {key value} $data {
	switch -- $key {
	    format {}
	    geometry {
		if {$value ne "" && ![regexp {^=?\d+x\d+([+-]-?\d+[+-]-?\d+)?$} \
			$value]} {
		    Fail VALUE geometry "bad geometry \"$value\""
		}
		dict set result geometry $value
	    }
	    connections - listeners {
		dict set result $key [CheckEndpoints $key $value]
	    }
	    udp {
		dict set result udp [UdpEndpoints $value]
	    }
	    snippets {
		dict set result snippets [lmap s [CheckList snippets $value] {
		    CheckFields snippet $s {name mode text}
		    Enum mode [dict get $s mode] {text hex file}
		    dict create name [dict get $s name] \
			    mode [dict get $s mode] text [dict get $s text]
		}]
	    }
	    rules {
		dict set result rules [lmap r [CheckList rules $value] {
		    # An item id as a scope (files written before scopes
		    # were saved as {kind host port}) means nothing after a
		    # restart: the rule comes back disabled, for any.
		    if {![catch {dict get $r scope} scope]
			    && [regexp {^i\d+$} $scope]} {
			dict set r scope any
			dict set r enabled 0
		    }
		    checkRule $r
		}]
	    }
	    history {
		dict set result history [CheckList history $value]
	    }
	    settings {
		dict set result settings [CheckSettings $value]
	    }
	    default {
		Fail OPTION $key "$path: unknown key \"$key\""
	    }
	}
    }
    return $result
}

proc ::workbench::CheckList {name value} {
    if {[catch {llength $value}]} {
	Fail VALUE $name "$name: expected a list"
    }
    return $value
}

proc ::workbench::CheckFields {what d fields} {
    if {[catch {dict size $d}]} {
	Fail VALUE $what "a $what must be a dict, got \"$d\""
    }
    foreach f $fields {
	if {![dict exists $d $f]} {
	    Fail VALUE $what "a $what needs \"$f\": \"$d\""
	}
    }
}

proc ::workbench::CheckEndpoints {key list} {
    return [lmap d [CheckList $key $list] {
	CheckFields endpoint $d {host port}
	CheckPort [dict get $d port] [expr {$key eq "listeners"}]
	set o [CheckOptions [expr {[dict exists $d options]
		? [dict get $d options] : {}}] \
		[expr {$key eq "listeners" ? "listener" : "client"}]]
	set echo [expr {[dict exists $d echo] ? [dict get $d echo] : 0}]
	if {![string is boolean -strict $echo]} {
	    Fail VALUE echo "expected a boolean, got \"$echo\""
	}
	set checked [dict create host [dict get $d host] \
		port [dict get $d port] options $o]
	if {$key eq "listeners"} {
	    dict set checked echo [string is true $echo]
	}
	set checked
    }]
}

# workbench::applyWorkspace data --
#	Restores a checked workspace: connections and listeners come back
#	closed (Reopen opens them), UDP sockets bound again, snippets, rules and history replace the
#	current ones. Returns the geometry, for the view.

proc ::workbench::applyWorkspace {data} {
    variable snippets
    variable history
    foreach d [dict get $data connections] {
	NewItem client [list host [dict get $d host] port [dict get $d port] \
		options [dict get $d options] \
		label [endpoint [dict get $d host] [dict get $d port]] \
		reason "from the workspace"]
    }
    foreach d [dict get $data listeners] {
	NewItem listener [list host [dict get $d host] \
		port [dict get $d port] options [dict get $d options] \
		echo [dict get $d echo] \
		label [endpoint [dict get $d host] [dict get $d port]] \
		reason "from the workspace"]
    }
    foreach d [dict get $data udp] {
	RestoreUdp $d
    }
    variable settings
    array set settings [dict get $data settings]
    set snippets [dict get $data snippets]
    set history [dict get $data history]
    setRules [dict get $data rules]
    Notify snippets {}
    return [dict get $data geometry]
}
