# view_main.tcl --
#
#	The main window: menu, tool bar, the connections sidebar, the
#	notebook (traffic, load generator, auto-responders) and the status
#	bar with the responsiveness meter. The views learn of model changes
#	through workbench::observe and refresh on timers, never per message.

namespace eval ::workbench {
    variable ui			;# Array: view state.
    array set ui {current {} sidebarTimer {} lagText {} slowText {} logText {}
	summaryText {} echo 0 broadcast 0 refreshMs 250 sidebarSlice 40
	sidebarNext 0}
    variable dirty		;# Array: items whose sidebar row changed.
    array set dirty {}
}

proc ::workbench::buildMainWindow {} {
    variable ui
    wm title . "Courier Workbench"
    wm minsize . 760 520
    ttk::style configure Status.TLabel -foreground gray30
    ttk::style configure Heading.TLabel -font TkHeadingFont
    MakeLockImages
    BuildMenu
    BuildToolbar .tb
    ttk::frame .status
    BuildStatusBar .status
    ttk::panedwindow .pw -orient horizontal
    BuildSidebar .pw.side
    ttk::notebook .nb
    buildTrafficTab .nb.traffic
    buildLoadTab .nb.load
    buildRulesTab .nb.rules
    .nb add .nb.traffic -text "Traffic" -underline 0
    .nb add .nb.load -text "Load generator" -underline 0
    .nb add .nb.rules -text "Auto-responders" -underline 0
    ttk::notebook::enableTraversal .nb
    .pw add .pw.side -weight 0
    .pw add .nb -weight 1
    pack .tb -side top -fill x
    pack .status -side bottom -fill x
    pack .pw -side top -fill both -expand 1 -padx 4 -pady {0 2}
    wm protocol . WM_DELETE_WINDOW ::workbench::quit
    # Load every font the views use now: the first use of a font costs
    # a fontconfig lookup, which would otherwise show as lag later.
    foreach f [list TkFixedFont TkHeadingFont TkSmallCaptionFont \
	    TkTooltipFont [list {*}[font actual TkFixedFont] -slant italic]] {
	font measure $f 0
    }
    observe ::workbench::OnModel
    Bindings
    RefreshLoop
    SecondLoop
}

proc ::workbench::BuildMenu {} {
    option add *Menu.tearOff 0
    menu .menubar
    set m [menu .menubar.file]
    $m add command -label "Save workspace" -accelerator Ctrl+S \
	    -command ::workbench::uiSaveWorkspace
    $m add command -label "Open workspace..." \
	    -command ::workbench::uiOpenWorkspace
    $m add separator
    $m add command -label "Log to file..." -command ::workbench::uiStartLog
    $m add command -label "Stop logging" -command ::workbench::uiStopLog \
	    -state disabled
    $m add checkbutton -label "Log every session automatically" \
	    -variable ::workbench::settings(autolog)
    $m add command -label "Export traffic..." -accelerator Ctrl+E \
	    -command ::workbench::uiExport
    $m add separator
    $m add command -label "Quit" -accelerator Ctrl+Q -command ::workbench::quit
    set m [menu .menubar.conn]
    $m add command -label "Connect..." -accelerator Ctrl+N \
	    -command ::workbench::connectDialog
    $m add command -label "Listen..." -accelerator Ctrl+L \
	    -command ::workbench::listenDialog
    $m add command -label "UDP socket..." -accelerator Ctrl+U \
	    -command ::workbench::udpDialog
    $m add command -label "Join multicast group..." \
	    -command {::workbench::uiGroup join}
    $m add command -label "Leave multicast group..." \
	    -command {::workbench::uiGroup leave}
    $m add separator
    $m add command -label "Reopen" -accelerator Ctrl+R \
	    -command {::workbench::uiAction reopen}
    $m add command -label "Pause / resume reading" -accelerator Ctrl+P \
	    -command {::workbench::uiAction pauseResume}
    $m add command -label "Close" -accelerator Ctrl+W \
	    -command {::workbench::uiAction close}
    $m add command -label "Remove" -accelerator Delete \
	    -command {::workbench::uiAction remove}
    set m [menu .menubar.view]
    foreach mode {text hex both} label {"Text" "Hex" "Text and hex"} {
	$m add radiobutton -label $label -value $mode \
		-variable ::workbench::tv(mode) \
		-command ::workbench::rerenderTraffic
    }
    $m add separator
    $m add checkbutton -label "Follow the tail" -accelerator Ctrl+T \
	    -variable ::workbench::tv(follow)
    $m add command -label "Find..." -accelerator Ctrl+F \
	    -command {focus .nb.traffic.bar.find}
    $m add command -label "Clear the view" -command ::workbench::clearTraffic
    $m add command -label "Reset the worst lag" \
	    -command ::workbench::resetLag
    set m [menu .menubar.tools]
    $m add command -label "Generate test certificate..." \
	    -command ::workbench::uiGenerateCert
    set m [menu .menubar.help]
    $m add command -label "Keyboard shortcuts" -command ::workbench::Shortcuts
    $m add command -label "About Courier Workbench" -accelerator F1 \
	    -command ::workbench::about
    foreach {menu label} {file File conn Connection view View tools Tools
	    help Help} {
	.menubar add cascade -label $label -underline 0 -menu .menubar.$menu
    }
    . configure -menu .menubar
}

proc ::workbench::BuildToolbar {w} {
    ttk::frame $w -padding {4 4 4 2}
    foreach {name label cmd tip} {
	connect "Connect..." ::workbench::connectDialog
	    "Open a TCP connection (Ctrl+N)"
	listen "Listen..." ::workbench::listenDialog
	    "Listen on a port; accepted clients appear beneath (Ctrl+L)"
	udp "UDP..." ::workbench::udpDialog
	    "Bind a UDP socket: receive datagrams, send to any HOST:PORT (Ctrl+U)"
	reopen "Reopen" {::workbench::uiAction reopen}
	    "Open the selected closed connection or listener again (Ctrl+R)"
	pause "Pause" {::workbench::uiAction pauseResume}
	    "Stop or restart reading the selected connection (Ctrl+P)"
	close "Close" {::workbench::uiAction close}
	    "Close the selected connection or listener (Ctrl+W)"
	remove "Remove" {::workbench::uiAction remove}
	    "Close and forget the selected item (Delete)"
    } {
	ttk::button $w.$name -text $label -command $cmd -takefocus 0 \
		-width -6
	tooltip $w.$name $tip
	pack $w.$name -side left -padx {0 3}
    }
    # "UDP..." at its own width, so that the summary still fits at the
    # minimum window size.
    $w.udp configure -width -4
    ttk::checkbutton $w.echo -text "Echo" -variable ::workbench::ui(echo) \
	    -command ::workbench::OnEchoToggle -takefocus 0
    tooltip $w.echo "The selected listener or UDP socket sends every\
	    message back to its sender"
    pack $w.echo -side left -padx {8 0}

    ttk::label $w.summary -textvariable ::workbench::ui(summaryText) \
	    -style Status.TLabel
    pack $w.summary -side right
    tooltip $w.summary "Listeners listening; connections open (made here\
	    or accepted); closed connections and listeners still listed"
}

# --- Sidebar -----------------------------------------------------------

proc ::workbench::BuildSidebar {w} {
    ttk::frame $w
    ttk::label $w.title -text "Connections" -style Heading.TLabel
    ttk::treeview $w.tree -columns {state in out} -selectmode browse \
	    -height 12 -yscrollcommand [list $w.sb set]
    ttk::scrollbar $w.sb -orient vertical -command [list $w.tree yview]
    $w.tree heading #0 -text "Peer" -anchor w
    $w.tree heading state -text "State" -anchor w
    $w.tree heading in -text "In" -anchor e
    $w.tree heading out -text "Out" -anchor e
    # Narrow enough that at the minimum window size the notebook keeps
    # most of the width (the sash gives the sidebar more if wanted);
    # wide enough for a listener's address, port and count, or an
    # accepted client's, after a TLS lock.
    $w.tree column #0 -width 170 -minwidth 90 -stretch 1
    $w.tree column state -width 70 -stretch 0
    $w.tree column in -width 41 -stretch 0 -anchor e
    $w.tree column out -width 41 -stretch 0 -anchor e
    foreach {state colour} {open green4 connecting DarkOrange3
	    listening blue3 paused DarkOrange3 closed gray45 error red3} {
	$w.tree tag configure $state -foreground $colour
    }
    ttk::label $w.hint -style Status.TLabel -wraplength 300 -justify left \
	    -text "Ctrl+N connects, Ctrl+L listens, Ctrl+U binds UDP.\
	    In/Out count messages (datagrams)."
    grid $w.title - -sticky w -pady {0 2}
    grid $w.tree $w.sb -sticky nsew
    grid $w.hint - -sticky ew -pady {2 0}
    grid columnconfigure $w 0 -weight 1
    grid rowconfigure $w 1 -weight 1
    bind $w.tree <<TreeviewSelect>> ::workbench::OnSelect
    bind $w.tree <Delete> {::workbench::uiAction remove}
    tooltip $w.tree {::workbench::SidebarTip %W}
}

# workbench::OnModel event id --
#	The model's notifications. Cheap: structure changes schedule a
#	sidebar refresh, rows of the shown item schedule a traffic flush.

proc ::workbench::OnModel {event id} {
    variable ui
    switch -- $event {
	rows {
	    if {$id eq $ui(current)} {
		scheduleTrafficFlush
	    }
	}
	added - removed - state {
	    if {$event eq "state" && $id eq $ui(current)} {
		refreshTlsPanel
	    }
	    variable dirty
	    set dirty($id) 1
	    if {$ui(sidebarTimer) eq ""} {
		set ui(sidebarTimer) [after 50 ::workbench::RefreshSidebar]
	    }
	    if {$event eq "removed" && $id eq $ui(current)} {
		set ui(current) {}
		after idle ::workbench::SelectFirst
	    }
	}
	rules { refreshRules }
	snippets { refreshSnippets }
	load { refreshLoad }
	log {
	    .menubar.file entryconfigure "Stop logging" \
		    -state [expr {[logging] ? "normal" : "disabled"}]
	}
    }
}

proc ::workbench::SelectFirst {} {
    set tree .pw.side.tree
    set first [lindex [$tree children {}] 0]
    if {$first ne "" && [$tree selection] eq ""} {
	$tree selection set $first
    } elseif {$first eq ""} {
	OnSelect
    }
}

# workbench::RefreshSidebar --
#	Makes the tree match the model: one row per item, accepted clients
#	beneath their listener. Rows whose state changed are updated at
#	once; counters are refreshed for at most sidebarSlice rows a call,
#	in turn, so that hundreds of clients under load cost no more than a
#	few dozen.

proc ::workbench::RefreshSidebar {} {
    variable ui
    variable dirty
    set ui(sidebarTimer) {}
    set tree .pw.side.tree
    set wanted [items]
    foreach id $wanted {
	set want($id) 1
    }
    foreach node [concat [$tree children {}] \
	    {*}[lmap n [$tree children {}] {$tree children $n}]] {
	if {![info exists want($node)]} {
	    # A listener's removal took its clients' rows with it.
	    if {[$tree exists $node]} {
		$tree delete $node
	    }
	    unset -nocomplain ui(row,$node)
	}
    }
    foreach id $wanted {
	if {![$tree exists $id]} {
	    $tree insert [itemGet $id parent] end -id $id -open 1
	    set dirty($id) 1
	}
    }
    foreach id [array names dirty] {
	if {[info exists want($id)]} {
	    UpdateRow $tree $id
	}
    }
    array unset dirty
    set n [llength $wanted]
    if {$n <= $ui(sidebarSlice)} {
	foreach id $wanted {
	    UpdateRow $tree $id
	}
    } else {
	set first [expr {$ui(sidebarNext) % $n}]
	for {set k 0} {$k < $ui(sidebarSlice)} {incr k} {
	    UpdateRow $tree [lindex $wanted [expr {($first + $k) % $n}]]
	}
	set ui(sidebarNext) [expr {($first + $ui(sidebarSlice)) % $n}]
    }
    if {$ui(current) eq "" && $n} {
	$tree selection set [lindex $wanted 0]
    }
    UpdateButtons
}

# workbench::UpdateRow tree id --
#	One sidebar row: label, state, counters. A listener shows how many
#	clients are open and their summed counters (as last read).

proc ::workbench::UpdateRow {tree id} {
    variable ui
    set state [itemGet $id state]
    set text [itemGet $id label]
    set tags [list $state]
    set image [lockImage $id]
    if {[itemGet $id kind] eq "listener"} {
	set open 0
	foreach k [itemGet $id children] {
	    incr open [expr {[itemGet $k state] in {open paused}}]
	}
	append text " ($open)"
	lappend tags listener
	set c [counters $id 0]
    } else {
	set c [counters $id]
    }
    set values [list $state [compact [dict get $c msgsIn]] \
	    [compact [dict get $c msgsOut]]]
    # Touch the widget only when the row changed.
    set row [list $text $values $tags $image]
    if {![info exists ui(row,$id)] || $ui(row,$id) ne $row} {
	set ui(row,$id) $row
	$tree item $id -text $text -values $values -tags $tags -image $image
    }
}

# workbench::compact n --
#	A counter in at most 5 characters: 9999, 68.0k, 309k, 1.2M, 34G.

proc ::workbench::compact {n} {
    if {$n < 10000} {
	return $n
    }
    foreach {limit div suffix} {1e6 1e3 k 1e9 1e6 M 1e12 1e9 G} {
	if {$n < $limit} {
	    set v [expr {$n / $div}]
	    return [format %.[expr {$v < 100 ? 1 : 0}]f%s $v $suffix]
	}
    }
    return [format %.0fT [expr {$n / 1e12}]]
}

proc ::workbench::SidebarTip {tree} {
    set x [expr {[winfo pointerx $tree] - [winfo rootx $tree]}]
    set y [expr {[winfo pointery $tree] - [winfo rooty $tree]}]
    set id [$tree identify item $x $y]
    if {$id eq "" || ![itemExists $id]} {
	return ""
    }
    set c [counters $id]
    return "[describe $id]\nin: [commas [dict get $c msgsIn]] messages,\
	    [humanBytes [dict get $c bytesIn]]\nout: [commas [dict get $c\
	    msgsOut]] messages, [humanBytes [dict get $c bytesOut]]"
}

proc ::workbench::OnSelect {} {
    variable ui
    set sel [.pw.side.tree selection]
    set id [expr {[llength $sel] ? [lindex $sel 0] : ""}]
    if {$id ne "" && ![itemExists $id]} {
	set id {}
    }
    set ui(current) $id
    set ui(echo) [expr {$id ne "" && [itemGet $id kind] in {listener udp}
	    && [itemGet $id echo]}]
    set ui(broadcast) [expr {$id ne "" && [itemGet $id kind] eq "udp"
	    && [itemGet $id broadcast]}]
    showSendTarget $id
    set ::workbench::sp(adds) [sendAdds $id]
    UpdateButtons
    refreshTlsPanel
    rerenderTraffic
    drawGraphs
}

proc ::workbench::UpdateButtons {} {
    variable ui
    set id $ui(current)
    set state [expr {$id ne "" && [itemExists $id] ? [itemGet $id state] : ""}]
    set kind [expr {$state ne "" ? [itemGet $id kind] : ""}]
    set can(reopen) [expr {$state in {closed error} && $kind ne "accepted"}]
    set can(close) [expr {$state in {open connecting paused listening}}]
    set can(pause) [expr {$state in {open paused} && $kind ne "listener"}]
    set can(remove) [expr {$state ne ""}]
    set can(echo) [expr {$kind in {listener udp}}]
    foreach b {reopen close pause remove echo} {
	.tb.$b state [expr {$can($b) ? "!disabled" : "disabled"}]
    }
    .tb.pause configure -text [expr {$state eq "paused" ? "Resume" : "Pause"}]
}

# workbench::uiAction what --
#	Toolbar and menu actions on the selected item.

proc ::workbench::uiAction {what} {
    variable ui
    set id $ui(current)
    if {$id eq "" || ![itemExists $id]} {
	return
    }
    if {[catch {
	switch -- $what {
	    reopen { reopen $id }
	    close { itemClose $id }
	    remove { remove $id }
	    pauseResume {
		if {[itemGet $id state] eq "paused"} { resume $id } else { pause $id }
	    }
	}
    } msg]} {
	problem $msg
    }
    UpdateButtons
}

proc ::workbench::OnEchoToggle {} {
    variable ui
    if {$ui(current) ne "" && [itemGet $ui(current) kind] in {listener udp}} {
	setEcho $ui(current) $ui(echo)
    }
}

proc ::workbench::OnBroadcastToggle {} {
    variable ui
    if {$ui(current) ne "" && [itemGet $ui(current) kind] eq "udp"} {
	if {[catch {udpBroadcast $ui(current) $ui(broadcast)} msg]} {
	    problem $msg
	}
    }
}

# workbench::uiGroup join|leave --
#	Asks for a multicast group ("GROUP ?INTERFACE?") and joins or
#	leaves it on the selected UDP socket; errors go to the status bar.

proc ::workbench::uiGroup {what} {
    variable ui
    set id $ui(current)
    if {$id eq "" || ![itemExists $id] || [itemGet $id kind] ne "udp"} {
	problem "Select a UDP socket first"
	return
    }
    set groups [itemGet $id groups]
    set answer [askString [expr {$what eq "join" ? "Join multicast group"
	    : "Leave multicast group"}] "Group and, optionally, the\
	    interface (address or name):" [expr {$what eq "leave"
	    ? [lindex $groups 0] : ""}]]
    set answer [string trim $answer]
    if {$answer eq ""} {
	return
    }
    if {[catch {
	if {[llength $answer] > 2} {
	    Fail VALUE group "expected GROUP ?INTERFACE?, got \"$answer\""
	}
	if {$what eq "join"} {
	    udpJoin $id {*}$answer
	} else {
	    udpLeave $id {*}$answer
	}
    } msg]} {
	problem $msg
    }
}

# --- Status bar ----------------------------------------------------------

proc ::workbench::BuildStatusBar {w} {
    $w configure -padding {6 2}
    ttk::separator $w.sep -orient horizontal
    pack $w.sep -side top -fill x -pady {0 2}
    ttk::label $w.title -text "Event-loop lag:"
    # A plain label, not ttk, so that its colour can change per state.
    label $w.dot -text "\u25CF" -foreground gray60 -borderwidth 0
    ttk::label $w.lag -textvariable ::workbench::ui(lagText) \
	    -font TkFixedFont -width 26
    ttk::label $w.log -textvariable ::workbench::ui(logText) \
	    -style Status.TLabel
    ttk::label $w.versions -style Status.TLabel -text "Courier\
	    [package present courier] \u00B7 Tcl [info patchlevel] \u00B7 Tk\
	    [package present Tk]"
    ttk::label $w.slow -textvariable ::workbench::ui(slowText) \
	    -style Status.TLabel
    pack $w.title $w.dot $w.lag -side left
    pack $w.slow -side left -padx {6 0}
    pack $w.versions -side right
    pack $w.log -side left -padx {12 0}
    # A narrow window drops the versions (Help > About has them), so
    # that a message is not cut off.
    bind $w <Configure> {
	if {%w < 1000 && [winfo manager .status.versions] ne ""} {
	    pack forget .status.versions
	} elseif {%w >= 1000 && [winfo manager .status.versions] eq ""} {
	    pack .status.versions -side right -before .status.title
	}
    }
    tooltip $w.lag "How late a 10 ms timer fires: the worst of the last\
	    quarter second, and the worst since start (View > Reset the\
	    worst lag). Under 25 ms a person sees no delay."
    tooltip $w.slow "The slowest callback of the last minute that held\
	    the event loop over 25 ms (courier::configure -slowcallback):\
	    how long, which option of which handle, and its command."
}

proc ::workbench::RefreshStatus {} {
    variable ui
    variable log
    lassign [lagSample] now worst
    set ui(lagText) "[LagText $now] now, [LagText $worst] worst"
    set ui(slowText) [SlowText [slowRecent]]
    .status.dot configure -foreground [expr {$now < 25 ? "green3"
	    : $now < 100 ? "orange" : "red3"}]
    if {[info exists ui(problem)] && $ui(problem) ne ""} {
	# A message from problem stays for its few seconds.
    } elseif {[logging]} {
	set ui(logText) "Log: [file tail $log(path)],\
		[plural $log(rows) row]"
    } else {
	set ui(logText) "Log: off"
    }
    # Listeners and connections are counted apart: "1 listening" (open
    # listeners), "2 open" (connections made here or accepted), "4
    # closed" (closed connections and listeners, kept in the list).
    set listening 0
    set open 0
    set closed 0
    foreach id [items] {
	switch -- [itemGet $id state] {
	    listening { incr listening }
	    open - paused - connecting { incr open }
	    default { incr closed }
	}
    }
    set ui(summaryText) "$listening listening, $open open, $closed closed"
}

# workbench::SlowText slow --
#	The status bar's word on the slowest recent callbacks (slowRecent):
#	the slowest in full, and how many others.

proc ::workbench::SlowText {slow} {
    if {![llength $slow]} {
	return ""
    }
    lassign [lindex $slow 0] ms handle kind command
    set text "slowest: $ms ms in $kind"
    if {$handle ne ""} {
	append text " of [namespace tail $handle]"
    }
    if {[string length $command] > 40} {
	set command [string range $command 0 38]\u2026
    }
    append text " ($command)"
    if {[llength $slow] > 1} {
	append text ", [expr {[llength $slow] - 1}] more"
    }
    return $text
}

proc ::workbench::LagText {ms} {
    return [format [expr {$ms < 10 ? "%4.1f ms" : "%4.0f ms"}] $ms]
}

# workbench::RefreshLoop --
#	Four times a second: status bar, sidebar counters, traffic counts.

proc ::workbench::RefreshLoop {} {
    variable ui
    RefreshStatus
    RefreshSidebar
    refreshTrafficInfo
    after $ui(refreshMs) ::workbench::RefreshLoop
}

# workbench::SecondLoop --
#	Once a second: the rate history and the graphs.

proc ::workbench::SecondLoop {} {
    sampleRates
    drawGraphs
    after 1000 ::workbench::SecondLoop
}

# --- Bindings, dialogs, messages ----------------------------------------

proc ::workbench::Bindings {} {
    foreach {key cmd} {
	<Control-n> ::workbench::connectDialog
	<Control-l> ::workbench::listenDialog
	<Control-u> ::workbench::udpDialog
	<Control-r> {::workbench::uiAction reopen}
	<Control-p> {::workbench::uiAction pauseResume}
	<Control-w> {::workbench::uiAction close}
	<Control-s> ::workbench::uiSaveWorkspace
	<Control-e> ::workbench::uiExport
	<Control-q> ::workbench::quit
	<Control-f> {focus .nb.traffic.bar.find}
	<Control-t> {set ::workbench::tv(follow) [expr {!$::workbench::tv(follow)}]}
	<F1> ::workbench::about
    } {
	bind . $key $cmd
    }
}

# workbench::plural n word --
#	"1 row", "2 rows", "1,000 rows".

proc ::workbench::plural {n word} {
    return "[commas $n] $word[expr {$n == 1 ? "" : "s"}]"
}

# workbench::problem message / workbench::notice message --
#	Shows an error (red) or a piece of news (grey) without a modal
#	dialog (a scripted run never blocks on one): in the status bar,
#	for a few seconds.

proc ::workbench::notice {message} {
    problem $message gray30
}

proc ::workbench::problem {message {colour red3}} {
    variable ui
    catch {after cancel $ui(problemTimer)}
    .status.log configure -foreground $colour
    set ui(logText) $message
    set ui(problem) $message
    set ui(problemTimer) [after 6000 {
	.status.log configure -foreground gray30
	set ::workbench::ui(problem) {}
    }]
}

# workbench::Shortcuts --
#	The keyboard shortcuts in a small window: keys and what they do in
#	aligned columns (a grid, not spaces in a proportional font).

proc ::workbench::Shortcuts {} {
    set w .shortcuts
    if {[winfo exists $w]} {
	raise $w
	return
    }
    toplevel $w
    wm title $w "Keyboard shortcuts"
    wm transient $w .
    ttk::frame $w.f -padding 12
    set row 0
    foreach {k1 d1 k2 d2} {
	Ctrl+N connect Ctrl+L listen
	Ctrl+U "UDP socket" "" ""
	Ctrl+R reopen Ctrl+W close
	Ctrl+P "pause / resume" Delete remove
	Ctrl+Return send Ctrl+F find
	Ctrl+T "follow the tail" Ctrl+E export
	"Ctrl+S" "save workspace" Ctrl+Q quit
	Return "send (in the send box)" Up/Down "what was sent"
	"Alt+T  Alt+L  Alt+A" "the notebook's tabs" F1 about
    } {
	set c 0
	foreach text [list $k1 $d1 $k2 $d2] {
	    ttk::label $w.f.l$row-$c -text $text
	    if {$c % 2 == 0} {
		$w.f.l$row-$c configure -font TkHeadingFont
	    }
	    grid $w.f.l$row-$c -row $row -column $c -sticky w \
		    -padx [expr {$c == 2 ? {24 8} : {0 8}}] -pady 1
	    incr c
	}
	incr row
    }
    ttk::button $w.f.ok -text "Close" -command [list destroy $w]
    grid $w.f.ok -row $row -column 0 -columnspan 4 -pady {10 0}
    pack $w.f -fill both -expand 1
    bind $w <Escape> [list destroy $w]
    bind $w <Return> [list destroy $w]
    focus $w.f.ok
}

proc ::workbench::about {} {
    tk_messageBox -parent . -title "About Courier Workbench" -icon info \
	    -message "Courier Workbench" -detail "A desktop tool for TCP\
	    work that keeps responding whatever the traffic.\n\nCourier\
	    [package present courier]\nTcl [info patchlevel]\nTk\
	    [package present Tk] ([tk windowingsystem])\nlibuv I/O threads:\
	    [llength [lsearch -all [courier::threads] courier-io-*]]\n\nThe\
	    sockets live in Courier's I/O threads; messages reach this window\
	    in batches through Courier's inbox, and the views redraw once per\
	    frame."
}
