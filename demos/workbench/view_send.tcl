# view_send.tcl --
#
#	The send panel: text with escapes and macros, hex, or a file; the
#	history (the combobox's list); saved snippets; repeat every N ms.
#	It sends to the selected item (a listener: to all its clients; a UDP
#	socket: one datagram to the HOST:PORT in the "To" box).

namespace eval ::workbench {
    variable sp			;# Array: send panel state.
    array set sp {mode text text {} every 1000 repeat 0 timer {} sent 0
	snippet {} status {} adds {} historyAt -1 to {}}
}

proc ::workbench::buildSendPanel {w} {
    ttk::labelframe $w -text "Send" -padding {6 2 6 4}
    # The first row is the box and Send, whatever the width; the
    # choices go on the second.
    ttk::frame $w.row
    ttk::combobox $w.row.data -textvariable ::workbench::sp(text) \
	    -font TkFixedFont -postcommand ::workbench::FillHistory
    ttk::button $w.row.send -text "Send" -command {::workbench::uiSend 1}
    ttk::label $w.row.status -textvariable ::workbench::sp(status) \
	    -style Status.TLabel
    pack $w.row.send -side right -padx {4 0}
    # A line shown for a UDP socket only (showSendTarget): where
    # datagrams go, broadcast, multicast.
    ttk::frame $w.udp
    ttk::label $w.udp.lto -text "To"
    ttk::entry $w.udp.to -textvariable ::workbench::sp(to) -width 18 \
	    -font TkFixedFont
    bind $w.udp.to <Return> {::workbench::uiSend 1}
    ttk::checkbutton $w.udp.broadcast -text "Broadcast" \
	    -variable ::workbench::ui(broadcast) \
	    -command ::workbench::OnBroadcastToggle
    tooltip $w.udp.broadcast "This UDP socket may send to broadcast\
	    addresses"
    ttk::button $w.udp.join -text "Multicast..." -width -5 \
	    -command {::workbench::uiGroup join}
    tooltip $w.udp.join "Join a multicast group on this UDP socket\
	    (Connection menu: leave one)"
    pack $w.udp.lto -side left -padx {0 4}
    pack $w.udp.to -side left
    pack $w.udp.broadcast $w.udp.join -side left -padx {8 0}
    tooltip $w.udp.to "HOST:PORT (\[::1\]:5000 for IPv6) that the datagrams\
	    go to. Auto-responder and echo replies go to each sender."
    pack $w.row.status -side right -padx {6 2}
    pack $w.row.data -side left -fill x -expand 1
    bind $w.row.data <Return> {::workbench::uiSend 1}
    bind $w.row.data <Up> {::workbench::HistoryStep 1; break}
    bind $w.row.data <Down> {::workbench::HistoryStep -1; break}
    # Return in the box sends; so does Ctrl+Return anywhere else.
    bind . <Control-Return> [list apply {{box} {
	if {[focus] ne $box} {::workbench::uiSend 1}
    }} $w.row.data]

    # The choices: two groups, side by side when there is room, else on
    # two rows (LayoutBar, as the traffic bar).
    ttk::frame $w.opts
    ttk::frame $w.opts.l
    ttk::frame $w.opts.r
    foreach mode {text hex file} label {Text Hex File} {
	ttk::radiobutton $w.opts.$mode -text $label -value $mode \
		-variable ::workbench::sp(mode)
	pack $w.opts.$mode -in $w.opts.l -side left -padx {0 4}
    }
    ttk::button $w.opts.browse -text "File..." -width -5 \
	    -command ::workbench::BrowseFile
    pack $w.opts.browse -in $w.opts.l -side left -padx {0 8}
    ttk::checkbutton $w.opts.repeat -text "Repeat" \
	    -variable ::workbench::sp(repeat) -command ::workbench::OnRepeat
    ttk::spinbox $w.opts.every -from 1 -to 3600000 -increment 100 -width 5 \
	    -textvariable ::workbench::sp(every)
    ttk::label $w.opts.ms -text "ms"
    ttk::label $w.opts.lsnip -text "Snippet"
    ttk::combobox $w.opts.snippet -width 8 -state readonly \
	    -textvariable ::workbench::sp(snippet)
    bind $w.opts.snippet <<ComboboxSelected>> ::workbench::UseSnippet
    ttk::button $w.opts.save -text "Save..." -width -5 \
	    -command ::workbench::SaveSnippet
    ttk::button $w.opts.delete -text "Delete" -width -5 \
	    -command ::workbench::DeleteSnippet
    # What the framing adds to every message (sendAdds).
    ttk::label $w.opts.adds -textvariable ::workbench::sp(adds) \
	    -style Status.TLabel
    pack $w.opts.repeat $w.opts.every $w.opts.ms -in $w.opts.l -side left
    pack configure $w.opts.every -padx 2
    pack $w.opts.adds -in $w.opts.r -side left -padx {4 8}
    pack $w.opts.lsnip -in $w.opts.r -side left -padx {0 4}
    pack $w.opts.snippet $w.opts.save $w.opts.delete -in $w.opts.r \
	    -side left -padx {0 4}
    grid $w.opts.l -row 0 -column 0 -sticky w
    grid $w.opts.r -row 0 -column 1 -sticky e
    grid columnconfigure $w.opts 1 -weight 1
    bind $w.opts <Configure> [list ::workbench::LayoutBar $w.opts %w]
    pack $w.row -fill x -pady {2 4}
    pack $w.opts -fill x
    tooltip $w.row.data "Text: escapes \\n \\r \\t \\\\ \\xNN; macros\
	    {counter} {time} {epoch}. Hex: pairs of digits, spaces allowed.\
	    File: a file name. Hex, \\xNN and files are sent byte for\
	    byte on every framing and encoding; line framing then adds its\
	    end of line, length framing its prefix.\
	    The list holds what was sent (Return or Ctrl+Return sends)."
    tooltip $w.opts.repeat "Send the same again every N ms until\
	    unticked"
    tooltip $w.opts.snippet "Saved messages: pick one to put it in the box"
}

proc ::workbench::FillHistory {} {
    variable history
    .nb.traffic.send.row.data configure -values $history
}

proc ::workbench::BrowseFile {} {
    variable sp
    set f [tk_getOpenFile -parent . -title "File to send"]
    if {$f ne ""} {
	set sp(mode) file
	set sp(text) $f
    }
}

# workbench::showSendTarget id --
#	Shows the UDP line (the "To" box filled with the socket's target,
#	Broadcast, Multicast...) for a UDP socket; hides it otherwise.

proc ::workbench::showSendTarget {id} {
    variable sp
    set w .nb.traffic.send
    if {![winfo exists $w.udp]} {
	return
    }
    if {$id ne "" && [itemExists $id] && [itemGet $id kind] eq "udp"} {
	set t [itemGet $id target]
	set sp(to) [expr {$t eq "" ? "" : [endpoint {*}$t]}]
	if {"$w.udp" ni [pack slaves $w]} {
	    pack $w.udp -fill x -pady {0 4} -after $w.row
	}
    } else {
	pack forget $w.udp
    }
}

# workbench::uiSend --
#	Sends the panel's data to the selected item. Errors (closed, bad
#	escape, bad hex) go to the status line and stop a repeat.

proc ::workbench::uiSend {{clear 0}} {
    variable sp
    variable ui
    set id $ui(current)
    if {$id eq "" || ![itemExists $id]} {
	set sp(status) "Select a connection first"
	return 0
    }
    if {[catch {
	if {[itemGet $id kind] eq "udp"} {
	    udpTarget $id {*}[splitTarget [string trim $sp(to)]]
	}
	set data [encodePayload $sp(mode) $sp(text) $id]
	set n [itemSendBytes $id $data]
    } msg]} {
	set sp(status) $msg
	set sp(repeat) 0
	OnRepeat
	return 0
    }
    rememberSent $sp(text)
    set sp(historyAt) -1
    # Return, Ctrl+Return and Send empty the box for the next message
    # (Up/Down or the list bring back what was sent), unless repeating.
    if {$clear && !$sp(repeat)} {
	set sp(text) {}
    }
    incr sp(sent) $n
    set sp(status) "[commas $sp(sent)] sent"
    return 1
}

proc ::workbench::OnRepeat {} {
    variable sp
    after cancel $sp(timer)
    set sp(timer) {}
    if {$sp(repeat)} {
	if {![string is entier -strict $sp(every)] || $sp(every) < 1} {
	    set sp(status) "Repeat needs a whole number of ms, not\
		    \"$sp(every)\""
	    set sp(repeat) 0
	    return
	}
	RepeatTick
    }
}

proc ::workbench::RepeatTick {} {
    variable sp
    if {$sp(repeat) && [uiSend]} {
	set sp(timer) [after $sp(every) ::workbench::RepeatTick]
    }
}

proc ::workbench::refreshSnippets {} {
    variable snippets
    .nb.traffic.send.opts.snippet configure \
	    -values [lmap s $snippets {dict get $s name}]
}

proc ::workbench::UseSnippet {} {
    variable sp
    variable snippets
    foreach s $snippets {
	if {[dict get $s name] eq $sp(snippet)} {
	    set sp(mode) [dict get $s mode]
	    set sp(text) [dict get $s text]
	}
    }
}

proc ::workbench::SaveSnippet {} {
    variable sp
    set name [askString "Save snippet" "Name of the snippet:" $sp(snippet)]
    if {$name eq ""} {
	return
    }
    if {[catch {setSnippet $name $sp(mode) $sp(text)} msg]} {
	set sp(status) $msg
	return
    }
    set sp(snippet) $name
}

proc ::workbench::DeleteSnippet {} {
    variable sp
    if {$sp(snippet) ne ""} {
	removeSnippet $sp(snippet)
	set sp(snippet) {}
    }
}

# workbench::sendAdds id --
#	What the framing of item id adds to each message sent, for the
#	send panel: "sends add \n", "sends add a 4-byte length", "sent as
#	is" (raw framing); nothing for a UDP socket.

proc ::workbench::sendAdds {id} {
    if {$id eq "" || ![itemExists $id]} {
	return ""
    }
    if {[itemGet $id kind] eq "udp"} {
	# One datagram per send, nothing added: the UDP line says enough.
	return ""
    }
    set o [itemGet $id options]
    switch -- [dict get $o framing] {
	line {
	    return "sends add [dict get {auto {\n} lf {\n} crlf {\r\n}
		    cr {\r}} [dict get $o translation]]"
	}
	length { return "sends add a [dict get $o lengthbytes]-byte length" }
	default { return "sent as is" }
    }
}

# workbench::HistoryStep step --
#	Up (1) and Down (-1) in the send box: older and newer texts sent;
#	Down past the newest empties the box.

proc ::workbench::HistoryStep {step} {
    variable sp
    variable history
    set at [expr {max(-1, min([llength $history] - 1, $sp(historyAt) + $step))}]
    set sp(historyAt) $at
    # Not an expr ternary: it would turn a sent " 1" into 1.
    if {$at < 0} {
	set sp(text) ""
    } else {
	set sp(text) [lindex $history $at]
    }
    .nb.traffic.send.row.data icursor end
}
