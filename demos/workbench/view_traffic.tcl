# view_traffic.tcl --
#
#	The traffic view of the selected item: timestamped rows coloured by
#	direction, as text, hex or both, filtered by direction and text or
#	regular expression, with find, follow-tail, copy and export.
#
#	Why it stays fast at any volume:
#	- it never touches the widget per message: the model keeps rows in
#	  a ring, and one timer per frame (frameMs) takes the new ones and
#	  inserts them with a single "insert" call;
#	- a frame inserts at most perFlush rows (the newest): rows that came
#	  faster than a screen can show are counted in a "not drawn" line
#	  instead of being drawn and scrolled away unseen; while rows come
#	  that fast, the view redraws every busyFrameMs instead of every
#	  frame (no one reads 60 screens a second);
#	- the widget holds at most settings(window) rows: older ones are
#	  deleted with one "delete" call. The info line says how many rows
#	  are outside the view; the log file (when on) has every one.

namespace eval ::workbench {
    variable tv			;# Array: traffic view state.
    array set tv {mode text dir all filter {} regex 0 follow 1 find {}
	shownSeq 0 widgetRows 0 flushTimer {} perFlush 150 frameMs 16
	busyFrameMs 100 busy 0 firstSeq -1 backfillTimer {} encoding {}
	maxChars 600 infoText {} headText {} flushes 0 filterError {}}
}

proc ::workbench::buildTrafficTab {w} {
    ttk::frame $w -padding {6 6 6 4}
    ttk::label $w.head -textvariable ::workbench::tv(headText) \
	    -style Heading.TLabel
    BuildTrafficBar $w.bar
    set t $w.text
    text $t -wrap none -height 14 -width 80 -font TkFixedFont \
	    -state disabled -undo 0 -borderwidth 1 -relief solid \
	    -highlightthickness 0 -background white \
	    -yscrollcommand [list $w.vsb set] \
	    -xscrollcommand [list $w.hsb set]
    ttk::scrollbar $w.vsb -orient vertical -command [list $t yview]
    ttk::scrollbar $w.hsb -orient horizontal -command [list $t xview]
    $t tag configure time -foreground gray50
    $t tag configure in -foreground #1a4fa0
    $t tag configure out -foreground #1c7a2e
    $t tag configure event -foreground gray40 \
	    -font [list {*}[font actual TkFixedFont] -slant italic]
    $t tag configure gap -foreground #8a5a00 -background #fff4d6
    $t tag configure found -background #ffe36e
    $t tag raise sel
    # Read-only, but the selection and copy still work on a disabled
    # text widget; a click stops following the tail.
    bind $t <ButtonPress-1> {+focus %W}
    bind $t <MouseWheel> {+set ::workbench::tv(follow) 0}
    bind $t <Button-4> {+set ::workbench::tv(follow) 0}
    ttk::label $w.info -textvariable ::workbench::tv(infoText) \
	    -style Status.TLabel
    buildGraphs $w.graph
    buildSendPanel $w.send
    buildTlsPanel $w.tls
    grid $w.head - -sticky w -pady {0 4}
    grid $w.bar - -sticky ew -pady {0 4}
    grid $w.tls - -sticky ew -pady {0 4}
    grid $t $w.vsb -sticky nsew
    grid $w.hsb x -sticky ew
    grid $w.info - -sticky w -pady {2 4}
    grid $w.graph - -sticky ew -pady {0 4}
    grid $w.send - -sticky ew
    # The TLS panel: shown for a TLS connection only (refreshTlsPanel).
    grid remove $w.tls
    grid columnconfigure $w 0 -weight 1
    grid rowconfigure $w 3 -weight 1
    # In a narrow window the heading and the info line wrap rather than
    # lose their ends.
    bind $w <Configure> [list apply {{w width} {
	foreach l [list $w.head $w.info] {
	    $l configure -wraplength [expr {max(200, $width - 16)}]
	}
    }} $w %w]
    foreach v {dir regex} {
	trace add variable ::workbench::tv($v) write \
		[list ::workbench::ScheduleRerender]
    }
}

proc ::workbench::BuildTrafficBar {w} {
    ttk::frame $w
    # Two groups, side by side when there is room, else on two rows
    # (LayoutBar); the containers are made first so that they lie under
    # the widgets packed into them.
    ttk::frame $w.l
    ttk::frame $w.r
    ttk::label $w.lmode -text "Show"
    ttk::combobox $w.mode -state readonly -width 5 \
	    -values {text hex both} -textvariable ::workbench::tv(mode)
    bind $w.mode <<ComboboxSelected>> ::workbench::rerenderTraffic
    ttk::label $w.ldir -text "Rows"
    ttk::combobox $w.dir -state readonly -width 6 \
	    -values {all in out events} -textvariable ::workbench::tv(dir)
    ttk::label $w.lfilter -text "Filter"
    ttk::entry $w.filter -width 10 -textvariable ::workbench::tv(filter)
    bind $w.filter <KeyRelease> ::workbench::ScheduleRerender
    ttk::checkbutton $w.regex -text "Regex" \
	    -variable ::workbench::tv(regex)
    ttk::label $w.lfind -text "Find"
    ttk::entry $w.find -width 8 -textvariable ::workbench::tv(find)
    bind $w.find <Return> ::workbench::FindNext
    ttk::checkbutton $w.follow -text "Follow" \
	    -variable ::workbench::tv(follow)
    ttk::button $w.copy -text "Copy" -width 6 -command ::workbench::CopyRows
    ttk::button $w.clear -text "Clear" -width 6 \
	    -command ::workbench::clearTraffic
    # The right-hand buttons first: when the window is narrow, the
    # entries shrink, not the buttons.
    pack $w.clear $w.copy $w.follow -in $w.r -side right -padx {4 0}
    pack $w.regex $w.lfind $w.find -in $w.r -side left -padx {0 4}
    pack configure $w.lfind -padx {8 4}
    pack $w.lmode $w.mode $w.ldir $w.dir $w.lfilter $w.filter \
	    -in $w.l -side left -padx {0 4}
    pack configure $w.ldir $w.lfilter -padx {8 4}
    grid $w.l -row 0 -column 0 -sticky w
    grid $w.r -row 0 -column 1 -sticky e
    grid columnconfigure $w 1 -weight 1
    bind $w <Configure> [list ::workbench::LayoutBar $w %w]
    tooltip $w.mode "Show payloads as text (control characters escaped),\
	    hex bytes, or both"
    tooltip $w.dir "Which rows to show: all, received (in), sent (out), or\
	    events (connects, closes, errors)"
    tooltip $w.filter "Show only rows that contain this text (or match this\
	    regular expression, with Regex)"
    tooltip $w.find "Find text in the view: Return finds the next (Ctrl+F)"
    tooltip $w.follow "Keep the newest row in sight (Ctrl+T)"
    tooltip $w.copy "Copy the selected rows, or all rows in the view"
    tooltip $w.clear "Empty the view (the model and the log keep the rows)"
}

# workbench::LayoutBar w width --
#	One row when both groups fit, else the buttons on a second row.

proc ::workbench::LayoutBar {w width} {
    set one [expr {$width >= [winfo reqwidth $w.l] + [winfo reqwidth $w.r]}]
    set now [expr {[dict get [grid info $w.r] -row] == 0}]
    if {$one && !$now} {
	grid $w.r -row 0 -column 1 -sticky e
    } elseif {!$one && $now} {
	grid $w.r -row 1 -column 0 -columnspan 2 -sticky w -pady {2 0}
    }
}

# workbench::scheduleTrafficFlush --
#	At most one flush pending: the first row of a frame arms it.

proc ::workbench::scheduleTrafficFlush {} {
    variable tv
    if {$tv(flushTimer) eq ""} {
	set tv(flushTimer) [after [expr {$tv(busy) ? $tv(busyFrameMs)
		: $tv(frameMs)}] ::workbench::FlushTraffic]
    }
}

# workbench::FlushTraffic ?max? --
#	Inserts the rows that arrived since the last flush (the newest max
#	of them) with one insert, and trims the widget with one delete.

proc ::workbench::FlushTraffic {{max {}}} {
    variable tv
    variable ui
    variable settings
    set tv(flushTimer) {}
    set id $ui(current)
    if {$id eq "" || ![itemExists $id]} {
	return
    }
    if {$max eq ""} {
	set max $tv(perFlush)
    }
    lassign [rowsSince $id $tv(shownSeq) $max] skipped rows
    set tv(shownSeq) [itemGet $id seq]
    set tv(busy) [expr {[llength $rows] >= 4 * $max / 2}]
    set insert {}
    set added 0
    if {$skipped > 0} {
	lappend insert "\u22EF [commas $skipped] rows not drawn: they came\
		faster than a screen can show (the log has them)\n" gap
	incr added
    }
    if {$tv(firstSeq) < 0 && [llength $rows]} {
	set tv(firstSeq) [lindex $rows 0]
    }
    lassign [InsertArgs $rows] args n
    lappend insert {*}$args
    incr added $n
    if {!$added} {
	return
    }
    set t .nb.traffic.text
    $t configure -state normal
    $t insert end {*}$insert
    incr tv(widgetRows) $added
    set excess [expr {$tv(widgetRows) - $settings(window)}]
    if {$excess > 0} {
	$t delete 1.0 [expr {$excess + 1}].0
	set tv(widgetRows) $settings(window)
    }
    $t configure -state disabled
    if {$tv(follow)} {
	$t yview moveto 1.0
    }
    incr tv(flushes)
}

# workbench::InsertArgs rows --
#	The text insert arguments (text tags text tags ...) of the rows
#	that pass the filter, and their count.

proc ::workbench::InsertArgs {rows} {
    set tags {< in > out * event}
    set marks {< "<  " > ">  " * "*  "}
    set insert {}
    set n 0
    foreach {seq time dir message} $rows {
	set line [RowText $dir $message]
	if {![Passes $dir $line]} {
	    continue
	}
	lappend insert "[timeText $time] " time \
		"[dict get $marks $dir]$line\n" [dict get $tags $dir]
	incr n
    }
    return [list $insert $n]
}

# workbench::Backfill id --
#	After a re-render, fills the view backwards with older rows from
#	the ring, a slice per event-loop turn, up to the window.

proc ::workbench::Backfill {id} {
    variable tv
    variable ui
    variable settings
    set tv(backfillTimer) {}
    if {$id ne $ui(current) || $tv(firstSeq) <= 0
	    || $tv(widgetRows) >= $settings(window)} {
	return
    }
    set max [expr {min($tv(perFlush), $settings(window) - $tv(widgetRows))}]
    set rows [rowsBefore $id $tv(firstSeq) $max]
    if {![llength $rows]} {
	return
    }
    set tv(firstSeq) [lindex $rows 0]
    lassign [InsertArgs $rows] insert n
    if {$n} {
	set t .nb.traffic.text
	$t configure -state normal
	$t insert 1.0 {*}$insert
	$t configure -state disabled
	incr tv(widgetRows) $n
	if {$tv(follow)} {
	    $t yview moveto 1.0
	}
    }
    set tv(backfillTimer) [after 30 [list ::workbench::Backfill $id]]
}

# workbench::RowText dir message --
#	A row's payload as shown: escaped text, hex or both, cut to
#	maxChars characters.

proc ::workbench::RowText {dir message} {
    variable tv
    if {$dir eq "*"} {
	return $message
    }
    set more ""
    set len [string length $message]
    set cut [expr {$tv(mode) eq "text" ? $tv(maxChars) : $tv(maxChars) / 3}]
    if {$len > $cut} {
	set message [string range $message 0 [expr {$cut - 1}]]
	set more "  \u2026 (+[commas [expr {$len - $cut}]])"
    }
    switch -- $tv(mode) {
	hex { return [showHex $message $tv(encoding)]$more }
	both {
	    return "[showText $message]  \u2502\
		    [showHex $message $tv(encoding)]$more"
	}
	default { return [showText $message]$more }
    }
}

proc ::workbench::Passes {dir line} {
    variable tv
    if {$tv(dir) ne "all"
	    && [dict get {< in > out * events} $dir] ne $tv(dir)} {
	return 0
    }
    if {$tv(filter) eq ""} {
	return 1
    }
    if {$tv(regex)} {
	# A bad expression shows everything (and says so) rather than
	# raising an error per row.
	if {[catch {regexp -nocase -- $tv(filter) $line} ok]} {
	    set tv(filterError) $ok
	    return 1
	}
	return $ok
    }
    return [expr {[string first [string tolower $tv(filter)] \
	    [string tolower $line]] >= 0}]
}

proc ::workbench::ScheduleRerender {args} {
    variable tv
    catch {after cancel $tv(rerenderTimer)}
    set tv(rerenderTimer) [after 150 ::workbench::rerenderTraffic]
}

# workbench::rerenderTraffic --
#	Fills the view anew from the model's ring (after a change of item,
#	mode or filter): the newest window's worth of rows.

proc ::workbench::rerenderTraffic {} {
    variable tv
    variable ui
    variable settings
    set t .nb.traffic.text
    $t configure -state normal
    $t delete 1.0 end
    $t configure -state disabled
    set tv(widgetRows) 0
    set tv(filterError) {}
    set id $ui(current)
    if {$id eq "" || ![itemExists $id]} {
	set tv(shownSeq) 0
	refreshTrafficInfo
	return
    }
    # The newest rows first, the older ones by Backfill, a slice at a
    # time: a full window at once would hold the event loop too long.
    # Hex shows a text connection's messages as the bytes on the wire.
    set o [itemGet $id options]
    set tv(encoding) [expr {[dict get $o framing] eq "line"
	    && [dict get $o encoding] ne "binary" ? [dict get $o encoding] : ""}]
    set tv(shownSeq) [expr {max(0, [itemGet $id seq] - $tv(perFlush))}]
    set tv(firstSeq) -1
    FlushTraffic
    catch {after cancel $tv(backfillTimer)}
    set tv(backfillTimer) [after 30 [list ::workbench::Backfill $id]]
    $t yview moveto 1.0
    refreshTrafficInfo
}

proc ::workbench::clearTraffic {} {
    variable tv
    variable ui
    set t .nb.traffic.text
    $t configure -state normal
    $t delete 1.0 end
    $t configure -state disabled
    set tv(widgetRows) 0
    set tv(firstSeq) 0
    catch {after cancel $tv(backfillTimer)}
}

# workbench::refreshTrafficInfo --
#	The heading and the line under the view: how many rows there are
#	and how many of them are outside the view.

proc ::workbench::refreshTrafficInfo {} {
    variable tv
    variable ui
    set id $ui(current)
    if {$id eq "" || ![itemExists $id]} {
	set tv(headText) "No connection selected: Connect..., Listen... or\
		UDP... to begin"
	set tv(infoText) ""
	return
    }
    set tv(headText) "[string totitle [describe $id] 0 0]"
    set total [itemGet $id seq]
    set outside [expr {max(0, $total - $tv(widgetRows))}]
    set text "[plural $total row], [commas $tv(widgetRows)] in the view,\
	    [commas $outside] outside it"
    append text [expr {[logging] ? " (all are in the log)"
	    : " (File > Log to file keeps them all)"}]
    if {$tv(filterError) ne ""} {
	append text "; bad filter: $tv(filterError)"
    }
    set tv(infoText) $text
}

proc ::workbench::FindNext {} {
    variable tv
    set t .nb.traffic.text
    $t tag remove found 1.0 end
    if {$tv(find) eq ""} {
	return
    }
    set at [$t search -nocase -count n -- $tv(find) "insert +1c" end]
    if {$at eq ""} {
	set at [$t search -nocase -count n -- $tv(find) 1.0 end]
    }
    if {$at eq ""} {
	problem "\"$tv(find)\" is not in the view"
	return
    }
    set tv(follow) 0
    $t tag add found $at "$at + $n chars"
    $t mark set insert $at
    $t see $at
}

proc ::workbench::CopyRows {} {
    set t .nb.traffic.text
    if {[llength [$t tag ranges sel]]} {
	set text [$t get sel.first sel.last]
    } else {
	set text [$t get 1.0 end-1c]
    }
    clipboard clear
    clipboard append -- $text
}
